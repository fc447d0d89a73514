"""One open registration per person and certificate across sessions (docs/api.md §6): a second
one is 409 ``registered-elsewhere`` (naming neither the other centre nor the session) until the
first is withdrawn, wholly absent, its session cancelled, or its session finalises that
certificate. A unique key decides it, so two centres at the same moment get one registration."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.support import (
    ExamClock,
    World,
    adult,
    assert_problem,
    passing_results,
    post_each_at_once,
    post_results,
    registration,
    schedule_session,
    withdraw,
)

ELSEWHERE = "/registered-elsewhere"


def _register(client: TestClient, headers: dict[str, str], session_id: str, body: dict) -> Any:  # type: ignore[type-arg]
    return client.post(f"/v1/sessions/{session_id}/registrations", headers=headers, json=body)


def _two_sessions(
    client: TestClient, world: World, certificates: list[str], **times: str
) -> tuple[dict, dict]:  # type: ignore[type-arg]
    a = schedule_session(client, world.centre_a, certificates, **times)
    b = schedule_session(client, world.centre_b, certificates, **times)
    return a, b


def test_two_centres_registering_one_person_at_the_same_moment_get_one_registration(
    world: World, client: TestClient, live
) -> None:  # type: ignore[no-untyped-def]
    a, b = _two_sessions(client, world, ["MEM-LV"])
    for serial in range(6):
        body = registration(adult(500 + serial), ["MEM-LV"])
        answers = post_each_at_once(
            [
                (f"{live.url}/v1/sessions/{a['id']}/registrations", world.centre_a, body),
                (f"{live.url}/v1/sessions/{b['id']}/registrations", world.centre_b, body),
            ]
        )
        assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
        (refused,) = [r.json() for r in answers if r.status_code == 409]
        assert refused["type"].endswith(ELSEWHERE), refused
    registered = [
        client.get(f"/v1/sessions/{s['id']}", headers=headers).json()["registered"]
        for s, headers in ((a, world.centre_a), (b, world.centre_b))
    ]
    assert sum(registered) == 6


def test_the_refusal_names_the_certificate_not_the_other_centre_or_session(
    world: World, client: TestClient
) -> None:
    a, b = _two_sessions(client, world, ["MEM-LV", "MOHURD-ELEC"])
    person = adult(1)
    assert (
        _register(client, world.centre_a, a["id"], registration(person, ["MEM-LV"])).status_code
        == 201
    )

    r = _register(client, world.centre_b, b["id"], registration(person, ["MOHURD-ELEC", "MEM-LV"]))
    body = assert_problem(r, 409)
    assert body["type"].endswith(ELSEWHERE)
    assert body["certificates"] == ["MEM-LV"]
    assert [e["pointer"] for e in body["errors"]] == ["/targets/1"]
    assert a["id"] not in r.text and "CA" not in r.text and "甲考点" not in r.text
    ok = _register(client, world.centre_b, b["id"], registration(person, ["MOHURD-ELEC"]))
    assert ok.status_code == 201, ok.text  # another certificate is another claim

    rows = [registration(person, ["MEM-LV"]), registration(adult(2), ["MEM-LV"])]
    c = schedule_session(client, world.centre_b, ["MEM-LV"])
    items = client.post(
        f"/v1/sessions/{c['id']}/registrations:batch",
        headers=world.centre_b,
        json={"registrations": rows},
    ).json()["items"]
    assert [i["status"] for i in items] == [409, 201]
    assert items[0]["problem"]["type"].endswith(ELSEWHERE)


def test_withdrawn_cancelled_absent_or_dropped_frees_the_certificate(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    a, b = _two_sessions(client, world, ["MEM-LV", "MOHURD-ELEC"])
    person = adult(1)
    first = _register(
        client, world.centre_a, a["id"], registration(person, ["MEM-LV", "MOHURD-ELEC"])
    )
    elsewhere = registration(person, ["MEM-LV"])
    assert_problem(_register(client, world.centre_b, b["id"], elsewhere), 409)

    # A change that drops a target frees it; one that adds a target held elsewhere is refused.
    dropped = client.patch(
        f"/v1/registrations/{first.json()['id']}",
        headers=world.centre_a,
        json={"targets": ["MOHURD-ELEC"]},
    )
    assert dropped.status_code == 200, dropped.text
    second = _register(client, world.centre_b, b["id"], elsewhere)
    assert second.status_code == 201, second.text
    back = client.patch(
        f"/v1/registrations/{first.json()['id']}",
        headers=world.centre_a,
        json={"targets": ["MEM-LV", "MOHURD-ELEC"]},
    )
    assert assert_problem(back, 409)["type"].endswith(ELSEWHERE)

    # Withdrawn: free.
    withdraw(client, world.centre_b, second.json()["id"])
    c = schedule_session(client, world.centre_b, ["MEM-LV"])
    third = _register(client, world.centre_b, c["id"], elsewhere)
    assert third.status_code == 201, third.text

    # Its session cancelled: free.
    assert client.post(f"/v1/sessions/{c['id']}/cancel", headers=world.centre_b).status_code == 200
    d = schedule_session(client, world.centre_a, ["MEM-LV"])
    fourth = _register(client, world.centre_a, d["id"], elsewhere)
    assert fourth.status_code == 201, fourth.text

    # Wholly absent: this sitting gives it nothing, so it may be sat elsewhere.
    exam_clock.start_of(d)
    absent = client.post(f"/v1/registrations/{fourth.json()['id']}/absence", headers=world.centre_a)
    assert absent.status_code == 200, absent.text
    e = schedule_session(client, world.centre_b, ["MEM-LV"], **exam_clock.session_times())
    assert _register(client, world.centre_b, e["id"], elsewhere).status_code == 201


def test_a_session_finalised_for_a_certificate_frees_that_certificate_only(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    a = schedule_session(client, world.centre_a, ["MEM-LV", "MOHURD-ELEC"])
    person = adult(1)
    reg = _register(
        client, world.centre_a, a["id"], registration(person, ["MEM-LV", "MOHURD-ELEC"])
    ).json()
    exam_clock.start_of(a)
    assert (
        post_results(
            client, world, a["id"], passing_results([reg], {"ELEC-THEORY": 60})
        ).status_code
        == 200
    )
    released = client.post(
        f"/v1/sessions/{a['id']}/finalise",
        headers=world.centre_a,
        json={"certificates": ["MEM-LV"]},
    )
    assert released.status_code == 200 and released.json()["status"] == "partially_finalised"

    b = schedule_session(
        client, world.centre_b, ["MEM-LV", "MOHURD-ELEC"], **exam_clock.session_times()
    )
    waiting = _register(client, world.centre_b, b["id"], registration(person, ["MOHURD-ELEC"]))
    assert assert_problem(waiting, 409)["type"].endswith(ELSEWHERE)  # not yet released there
    again = _register(client, world.centre_b, b["id"], registration(person, ["MEM-LV"]))
    assert again.status_code == 201, again.text  # MEM-LV is decided there (not qualified)

    assert (
        client.post(f"/v1/sessions/{a['id']}/finalise", headers=world.centre_a).status_code == 200
    )
    change = client.patch(
        f"/v1/registrations/{again.json()['id']}",
        headers=world.centre_b,
        json={"targets": ["MEM-LV", "MOHURD-ELEC"]},
    )
    assert change.status_code == 200, change.text
