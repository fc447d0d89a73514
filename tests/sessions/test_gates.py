"""The time gates of a session, each both ways: registration closes at ``starts_at``; results,
absences and finalisation open at it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.support import (
    ExamClock,
    World,
    adult,
    assert_problem,
    electrician_results,
    post_results,
    registration,
    schedule_session,
)

JUST = timedelta(seconds=2)


def _starts(session: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(session["starts_at"])


def _register(client: TestClient, world: World, session_id: str, serial: int) -> Any:
    return client.post(
        f"/v1/sessions/{session_id}/registrations",
        headers=world.centre_a,
        json=registration(adult(serial), ["MOHURD-ELEC"]),
    )


def test_registration_is_open_just_before_the_start_and_closed_just_after(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    s = schedule_session(client, world.centre_a, ["MOHURD-ELEC"])
    exam_clock.move_to(_starts(s) - JUST)
    assert _register(client, world, s["id"], 1).status_code == 201
    exam_clock.start_of(s)
    body = assert_problem(_register(client, world, s["id"], 2), 409)
    assert body["type"].endswith("/session-started")


def test_a_batch_is_closed_at_the_start_for_every_row(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    s = schedule_session(client, world.centre_a, ["MOHURD-ELEC"])
    url = f"/v1/sessions/{s['id']}/registrations:batch"
    rows = [registration(adult(i), ["MOHURD-ELEC"]) for i in (1, 2)]
    exam_clock.move_to(_starts(s) - JUST)
    r = client.post(url, headers=world.centre_a, json={"registrations": rows[:1]})
    assert [i["status"] for i in r.json()["items"]] == [201]
    exam_clock.start_of(s)
    r = client.post(url, headers=world.centre_a, json={"registrations": rows[1:]})
    (item,) = r.json()["items"]
    assert item["status"] == 409 and item["problem"]["type"].endswith("/session-started")


def test_results_are_refused_just_before_the_start_and_accepted_just_after(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    s = schedule_session(client, world.centre_a, ["MOHURD-ELEC"])
    reg = _register(client, world, s["id"], 1).json()
    rows = [r for r in electrician_results(reg["id"]) if r["section"] in reg["required_sections"]]
    exam_clock.move_to(_starts(s) - JUST)
    body = assert_problem(post_results(client, world, s["id"], rows), 409)
    assert body["type"].endswith("/session-not-started")
    assert (
        client.get(f"/v1/registrations/{reg['id']}", headers=world.centre_a).json()["results"] == []
    )
    exam_clock.start_of(s)
    r = post_results(client, world, s["id"], rows)
    assert r.status_code == 200, r.text
    assert r.json()["created"] == len(rows)


def test_absence_is_refused_just_before_the_start_and_accepted_just_after(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    s = schedule_session(client, world.centre_a, ["MOHURD-ELEC"])
    reg = _register(client, world, s["id"], 1).json()
    url = f"/v1/registrations/{reg['id']}/absence"
    exam_clock.move_to(_starts(s) - JUST)
    body = assert_problem(client.post(url, headers=world.centre_a), 409)
    assert body["type"].endswith("/session-not-started")
    exam_clock.start_of(s)
    r = client.post(url, headers=world.centre_a)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "absent"


def test_finalisation_is_refused_just_before_the_start_and_accepted_just_after(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    s = schedule_session(client, world.centre_a, ["MOHURD-ELEC"])
    reg = _register(client, world, s["id"], 1).json()
    url = f"/v1/sessions/{s['id']}/finalise"
    exam_clock.move_to(_starts(s) - JUST)
    body = assert_problem(client.post(url, headers=world.centre_a), 409)
    assert body["type"].endswith("/session-not-started")
    assert client.get(f"/v1/sessions/{s['id']}", headers=world.centre_a).json()["status"] == (
        "scheduled"
    )
    exam_clock.start_of(s)
    client.post(f"/v1/registrations/{reg['id']}/absence", headers=world.centre_a)
    r = client.post(url, headers=world.centre_a)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "finalised"
