"""Release per certificate and absence from one section (docs/api.md §6 absence, §7, §8).

A session's certificates can be finalised one by one (the welding test piece is inspected for
weeks while the theory results could already go to 人社); a candidate who missed only one
section is ``absent`` for the certificates needing it and evaluated for the rest.
"""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.db import create_db_engine
from tests.receiver import Receiver, wait_until
from tests.support import (
    ELEC3,
    ExamClock,
    World,
    adult,
    assert_problem,
    electrician_results,
    passing_results,
    post_all_at_once,
    post_results,
    register_many,
    registration,
    schedule_session,
)

WELD = ["SAMR-WELD", "MOHRSS-WELD-L5", "MEM-WELD"]


def count(settings, table: str) -> int:  # type: ignore[no-untyped-def]
    engine = create_db_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(f"select count(*) from {table}")).scalar_one())
    finally:
        engine.dispose()


def outcomes(client: TestClient, world: World, session_id: str) -> dict[str, str]:
    items = client.get(f"/v1/sessions/{session_id}/outcomes", headers=world.centre_a).json()
    return {o["certificate"]: o["status"] for o in items["items"]}


def release(client: TestClient, world: World, session_id: str, *certificates: str):  # type: ignore[no-untyped-def]
    body = {"certificates": list(certificates)} if certificates else None
    return client.post(f"/v1/sessions/{session_id}/finalise", headers=world.centre_a, json=body)


def test_a_welder_session_released_for_mohrss_first_and_samr_weeks_later(
    delivering: tuple[TestClient, World, Receiver], exam_clock: ExamClock
) -> None:
    client, world, receiver = delivering
    s = schedule_session(client, world.centre_a, ["SAMR-WELD", "MOHRSS-WELD-L5"])
    (reg,) = register_many(
        client, world, s["id"], [registration(adult(1), ["SAMR-WELD", "MOHRSS-WELD-L5"])]
    )
    exam_clock.start_of(s)
    theory = [r for r in passing_results([reg]) if r["section"] != "WELD-TESTPIECE"]
    assert post_results(client, world, s["id"], theory).status_code == 200

    # the test piece is not inspected yet: SAMR cannot be released, MOHRSS can
    body = assert_problem(release(client, world, s["id"], "SAMR-WELD"), 409)
    assert body["missing"] == [{"registration_id": reg["id"], "section": "WELD-TESTPIECE"}]
    first = release(client, world, s["id"], "MOHRSS-WELD-L5")
    assert first.status_code == 200, first.text
    assert first.json() == {
        "status": "partially_finalised",
        "certificates": ["MOHRSS-WELD-L5"],
        "registrations": 1,
        "qualified": 1,
        "not_qualified": 0,
        "not_eligible": 0,
        "absent": 0,
        "issuance_requests": 1,
    }
    assert wait_until(lambda: len(receiver.calls_to("mohrss")) == 1)
    assert json.loads(receiver.calls_to("mohrss")[0].body)["type"] == "issuance.requested"
    assert outcomes(client, world, s["id"]) == {
        "MOHRSS-WELD-L5": "qualified",
        "SAMR-WELD": "pending",
    }
    session = client.get(f"/v1/sessions/{s['id']}", headers=world.centre_a).json()
    assert session["status"] == "partially_finalised"
    requests = client.get(
        "/v1/issuance-requests", headers=world.centre_a, params={"session_id": s["id"]}
    ).json()["items"]
    assert [r["department"] for r in requests] == ["mohrss"]  # nothing at all for samr yet
    assert release(client, world, s["id"], "MOHRSS-WELD-L5").json() == first.json()

    exam_clock.shift(timedelta(weeks=3))  # the test piece is inspected
    piece = [{"registration_id": reg["id"], "section": "WELD-TESTPIECE", "passed": True}]
    assert post_results(client, world, s["id"], piece).status_code == 200
    assert outcomes(client, world, s["id"])["SAMR-WELD"] == "pending"
    second = release(client, world, s["id"], "SAMR-WELD")
    assert second.status_code == 200, second.text
    assert (second.json()["status"], second.json()["qualified"]) == ("finalised", 1)
    assert wait_until(lambda: len(receiver.calls_to("samr")) == 1)
    assert outcomes(client, world, s["id"]) == {
        "MOHRSS-WELD-L5": "qualified",
        "SAMR-WELD": "qualified",
    }
    assert len(receiver.calls_to("mohrss")) == 1
    # finalising the whole session now is the summary of both, and creates nothing
    everything = release(client, world, s["id"]).json()
    assert (everything["status"], everything["qualified"], everything["issuance_requests"]) == (
        "finalised",
        2,
        2,
    )


def test_a_release_names_only_offered_certificates_and_results_stay_open_for_the_rest(
    world: World, client: TestClient, settings, exam_clock: ExamClock
) -> None:  # type: ignore[no-untyped-def]
    s = schedule_session(client, world.centre_a, ELEC3)
    (reg,) = register_many(client, world, s["id"], [registration(adult(2), ELEC3)])
    exam_clock.start_of(s)
    body = assert_problem(release(client, world, s["id"], "MEM-LV", "SAMR-WELD"), 422)
    assert [e["pointer"] for e in body["errors"]] == ["/certificates/1"]
    rows = electrician_results(reg["id"])
    post_results(client, world, s["id"], [r for r in rows if r["section"] != "BUILD-SAFETY"])
    assert release(client, world, s["id"], "MEM-LV", "MOHRSS-ELEC-L5").status_code == 200
    assert_problem(client.post(f"/v1/sessions/{s['id']}/cancel", headers=world.centre_a), 409)
    # MOHURD still needs BUILD-SAFETY: results are still taken, the released rows are unchanged
    assert post_results(client, world, s["id"], rows).json() == {"created": 1, "unchanged": 3}
    assert release(client, world, s["id"]).json()["status"] == "finalised"
    assert count(settings, "outcomes") == 3


def test_absence_from_the_practical_only(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    s = schedule_session(client, world.centre_a, WELD)
    (reg,) = register_many(client, world, s["id"], [registration(adult(3), WELD)])
    exam_clock.start_of(s)
    url = f"/v1/registrations/{reg['id']}/absence"
    body = assert_problem(
        client.post(url, headers=world.centre_a, json={"sections": ["ELEC-THEORY"]}), 422
    )
    assert body["errors"][0]["pointer"] == "/sections/0"
    theory = [r for r in passing_results([reg]) if r["section"] != "WELD-PRACTICAL"]
    post_results(client, world, s["id"], theory)
    assert_problem(
        client.post(url, headers=world.centre_a, json={"sections": ["WELD-THEORY"]}), 409
    )  # a result is recorded for it

    r = client.post(
        url, headers=world.centre_a, json={"sections": ["WELD-PRACTICAL"], "reason": "病假"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "registered"
    assert r.json()["absent_sections"] == [{"section": "WELD-PRACTICAL", "reason": "病假"}]
    again = client.post(url, headers=world.centre_a, json={"sections": ["WELD-PRACTICAL"]})
    assert again.json()["absent_sections"] == r.json()["absent_sections"]

    practical = [{"registration_id": reg["id"], "section": "WELD-PRACTICAL", "score": 90}]
    body = assert_problem(post_results(client, world, s["id"], practical), 422)
    assert body["errors"][0]["pointer"] == "/results/0/section"

    summary = release(client, world, s["id"]).json()  # nothing is missing: the rest is there
    assert (summary["qualified"], summary["absent"], summary["issuance_requests"]) == (1, 1, 1)
    assert outcomes(client, world, s["id"]) == {
        "MEM-WELD": "absent",
        "MOHRSS-WELD-L5": "absent",
        "SAMR-WELD": "qualified",
    }
    detail = client.get(f"/v1/registrations/{reg['id']}", headers=world.centre_a).json()
    assert detail["absent_sections"] == [{"section": "WELD-PRACTICAL", "reason": "病假"}]


def test_two_concurrent_releases_of_different_certificates(
    world: World, client: TestClient, live, settings, exam_clock: ExamClock
) -> None:  # type: ignore[no-untyped-def]
    s = schedule_session(client, world.centre_a, ELEC3)
    regs = register_many(
        client, world, s["id"], [registration(adult(30 + i), ELEC3) for i in range(15)]
    )
    exam_clock.start_of(s)
    rows = [row for reg in regs for row in electrician_results(reg["id"], theory=90)]
    assert post_results(client, world, s["id"], rows).status_code == 200
    bodies = [{"certificates": [code]} for code in ELEC3] * 2
    statuses = post_all_at_once(
        f"{live.url}/v1/sessions/{s['id']}/finalise", world.centre_a, bodies
    )
    assert statuses == [200] * 6
    assert count(settings, "issuance_requests") == 45 and count(settings, "deliveries") == 45
    assert count(settings, "outcomes") == 45 and count(settings, "certificate_releases") == 3
    session = client.get(f"/v1/sessions/{s['id']}", headers=world.centre_a).json()
    assert session["status"] == "finalised"
    assert set(outcomes(client, world, s["id"]).values()) == {"qualified"}
