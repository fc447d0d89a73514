"""Registering again after a withdrawal (docs/api.md §6): a withdrawn registration stays on
record as it was, and the person may be registered in the same session again, on a seat like
anyone else; at most one registration per person and session is not withdrawn."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient

from tests.support import (
    ExamClock,
    World,
    adult,
    assert_problem,
    passing_results,
    post_results,
    registration,
    schedule_session,
    withdraw,
)

PERSON, OTHER = adult(1), adult(2)


def _post(client: TestClient, world: World, session_id: str, id_no: str) -> Any:
    return client.post(
        f"/v1/sessions/{session_id}/registrations",
        headers=world.centre_a,
        json=registration(id_no, ["MOHURD-ELEC"]),
    )


def _seats(client: TestClient, world: World, session_id: str) -> int:
    r = client.get(f"/v1/sessions/{session_id}", headers=world.centre_a)
    return r.json()["registered"]  # type: ignore[no-any-return]


def _listed(client: TestClient, world: World, session_id: str) -> dict[str, str]:
    r = client.get(f"/v1/sessions/{session_id}/registrations", headers=world.centre_a)
    assert r.status_code == 200, r.text
    return {i["id"]: i["status"] for i in r.json()["items"]}


def _batch(client: TestClient, world: World, session_id: str, ids: list[str]) -> list[Any]:
    r = client.post(
        f"/v1/sessions/{session_id}/registrations:batch",
        headers=world.centre_a,
        json={"registrations": [registration(i, ["MOHURD-ELEC"]) for i in ids]},
    )
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


def test_a_withdrawn_candidate_registers_again_on_a_free_seat(
    world: World, client: TestClient
) -> None:
    s = schedule_session(client, world.centre_a, ["MOHURD-ELEC"], capacity=1)
    first = _post(client, world, s["id"], PERSON).json()
    withdrawn = withdraw(client, world.centre_a, first["id"])
    assert _seats(client, world, s["id"]) == 0

    r = _post(client, world, s["id"], PERSON)
    assert r.status_code == 201, r.text
    second = r.json()
    assert second["id"] != first["id"] and second["status"] == "registered"
    assert _seats(client, world, s["id"]) == 1
    full = assert_problem(_post(client, world, s["id"], OTHER), 409)
    assert full["type"].endswith("/session-full")  # the new registration holds the one seat

    again = assert_problem(_post(client, world, s["id"], PERSON), 409)
    assert again["type"].endswith("/already-registered")
    assert again["registration_id"] == second["id"]  # the live one, not the withdrawn one
    assert _listed(client, world, s["id"]) == {first["id"]: "withdrawn", second["id"]: "registered"}
    kept = client.get(f"/v1/registrations/{first['id']}", headers=world.centre_a).json()
    assert (kept["status"], kept["withdrawal_reason"]) == ("withdrawn", "退考")
    assert kept["withdrawn_at"] == withdrawn["withdrawn_at"]

    withdraw(client, world.centre_a, second["id"])  # and once more
    third = _post(client, world, s["id"], PERSON)
    assert third.status_code == 201, third.text
    assert _seats(client, world, s["id"]) == 1
    assert sorted(_listed(client, world, s["id"]).values()) == [
        "registered",
        "withdrawn",
        "withdrawn",
    ]


def test_a_batch_row_registers_a_withdrawn_candidate_again(
    world: World, client: TestClient
) -> None:
    s = schedule_session(client, world.centre_a, ["MOHURD-ELEC"], capacity=2)
    first = _post(client, world, s["id"], PERSON).json()
    withdraw(client, world.centre_a, first["id"])

    items = _batch(client, world, s["id"], [PERSON, PERSON, OTHER])
    assert [i["status"] for i in items] == [201, 409, 201]
    assert items[1]["problem"]["type"].endswith("/already-registered")
    assert items[0]["registration"]["id"] != first["id"]
    assert _seats(client, world, s["id"]) == 2

    (again,) = _batch(client, world, s["id"], [PERSON])
    assert again["status"] == 409 and again["problem"]["type"].endswith("/already-registered")
    assert again["problem"]["registration_id"] == items[0]["registration"]["id"]


def test_only_the_live_registration_claims_takes_results_and_is_evaluated(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    s = schedule_session(client, world.centre_a, ["MOHURD-ELEC"], **exam_clock.session_times())
    first = _post(client, world, s["id"], PERSON).json()
    withdraw(client, world.centre_a, first["id"])
    second = _post(client, world, s["id"], PERSON).json()

    elsewhere = schedule_session(client, world.centre_b, ["MOHURD-ELEC"])
    r = client.post(
        f"/v1/sessions/{elsewhere['id']}/registrations",
        headers=world.centre_b,
        json=registration(PERSON, ["MOHURD-ELEC"]),
    )
    assert assert_problem(r, 409)["type"].endswith("/registered-elsewhere")  # claimed again

    exam_clock.start_of(s)
    body = assert_problem(post_results(client, world, s["id"], passing_results([first])), 422)
    assert {e["message"] for e in body["errors"]} == {"the registration is withdrawn"}
    assert post_results(client, world, s["id"], passing_results([second])).status_code == 200
    summary = client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a).json()
    assert (summary["registrations"], summary["qualified"]) == (1, 1)
    outcomes = client.get(f"/v1/sessions/{s['id']}/outcomes", headers=world.centre_a).json()
    assert [o["registration_id"] for o in outcomes["items"]] == [second["id"]]

    exported = client.get(
        f"/v1/sessions/{s['id']}/registrations",
        headers={**world.centre_a, "Accept": "text/csv"},
    )
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert {(row["registration_id"], row["status"]) for row in rows} == {
        (first["id"], "withdrawn"),
        (second["id"], "registered"),
    }
