"""Changing and withdrawing a registration (docs/api.md §6): both only before ``starts_at``,
both for the owning centre (an admin for any), both audited; a change re-plans with the checks
of a new registration on the same seat, a withdrawal frees the seat and the registration takes
no results and is not evaluated."""

from __future__ import annotations

from datetime import datetime, timedelta
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
)

JUST = timedelta(seconds=2)
VALID_LV = {"certificate": "MEM-LV", "number": "T-LV-1", "valid_until": "2031-06-30"}


def _register(client: TestClient, world: World, session_id: str, body: dict) -> dict:  # type: ignore[type-arg]
    r = client.post(f"/v1/sessions/{session_id}/registrations", headers=world.centre_a, json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _change(client: TestClient, headers: dict[str, str], reg_id: str, body: dict) -> Any:  # type: ignore[type-arg]
    return client.patch(f"/v1/registrations/{reg_id}", headers=headers, json=body)


def _withdraw(client: TestClient, headers: dict[str, str], reg_id: str) -> Any:
    return client.post(
        f"/v1/registrations/{reg_id}/withdraw", headers=headers, json={"reason": "考生申请退考"}
    )


def _audit(client: TestClient, world: World, subject: str) -> list[dict[str, Any]]:
    r = client.get("/v1/audit-log", headers=world.admin, params={"subject": subject})
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


def test_a_change_replans_with_the_checks_of_a_new_registration(
    world: World, client: TestClient
) -> None:
    s = schedule_session(client, world.centre_a, ["MEM-LV", "MOHURD-ELEC", "MOHRSS-ELEC-L4"])
    reg = _register(client, world, s["id"], registration(adult(1), ["MOHURD-ELEC"]))
    assert "ELEC-TRAINING" in reg["required_sections"]

    r = _change(client, world.centre_a, reg["id"], {"held": [VALID_LV]})
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["targets"] == ["MOHURD-ELEC"]  # left as it was
    assert "ELEC-TRAINING" not in changed["required_sections"]
    assert [(e["section"], e["basis"]["certificate"]) for e in changed["exemptions"]] == [
        ("ELEC-TRAINING", "MEM-LV")
    ]

    r = _change(client, world.centre_a, reg["id"], {"targets": ["MOHURD-ELEC", "MOHRSS-ELEC-L4"]})
    assert r.status_code == 200, r.text
    assert r.json()["targets"] == ["MOHURD-ELEC", "MOHRSS-ELEC-L4"]  # MEM-LV opens level 4
    assert r.json()["held"][0]["certificate"] == "MEM-LV"  # the declaration is kept

    refused = assert_problem(_change(client, world.centre_a, reg["id"], {"held": []}), 422)
    assert [t["reasons"][0]["code"] for t in refused["targets"] if t["reasons"]] == [
        "missing-prerequisite"
    ]
    assert refused["errors"][0]["pointer"] == "/targets/1"
    body = assert_problem(
        _change(client, world.centre_a, reg["id"], {"targets": ["MEM-LV", "SAMR-WELD"]}), 422
    )
    assert [e["pointer"] for e in body["errors"]] == ["/targets/1"]
    assert assert_problem(_change(client, world.centre_a, reg["id"], {"targets": []}), 422)

    stored = client.get(f"/v1/registrations/{reg['id']}", headers=world.centre_a).json()
    assert stored["targets"] == ["MOHURD-ELEC", "MOHRSS-ELEC-L4"]  # refusals changed nothing
    assert client.get(f"/v1/sessions/{s['id']}", headers=world.centre_a).json()["registered"] == 1
    entries = [e for e in _audit(client, world, reg["id"]) if e["action"] == "registration.changed"]
    assert [(e["before"]["targets"], e["after"]["targets"]) for e in entries] == [
        (["MOHURD-ELEC"], ["MOHURD-ELEC"]),
        (["MOHURD-ELEC"], ["MOHURD-ELEC", "MOHRSS-ELEC-L4"]),
    ]
    assert entries[0]["before"]["held"] == [] and entries[0]["after"]["held"] == ["MEM-LV"]
    assert all(e["actor"].startswith("centre:") for e in entries)


def test_a_withdrawal_frees_the_seat_and_is_audited(world: World, client: TestClient) -> None:
    s = schedule_session(client, world.centre_a, ["MOHURD-ELEC"], capacity=1)
    first = _register(client, world, s["id"], registration(adult(1), ["MOHURD-ELEC"]))
    url = f"/v1/sessions/{s['id']}/registrations"
    second = registration(adult(2), ["MOHURD-ELEC"])
    full = client.post(url, headers=world.centre_a, json=second)
    assert assert_problem(full, 409)["type"].endswith("/session-full")

    r = _withdraw(client, world.centre_a, first["id"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "withdrawn" and r.json()["withdrawal_reason"] == "考生申请退考"
    assert r.json()["withdrawn_at"] is not None
    assert client.get(f"/v1/sessions/{s['id']}", headers=world.centre_a).json()["registered"] == 0
    assert client.post(url, headers=world.centre_a, json=second).status_code == 201

    again = _withdraw(client, world.centre_a, first["id"])  # again: no change
    assert again.status_code == 200 and again.json() == r.json()
    assert client.get(f"/v1/sessions/{s['id']}", headers=world.centre_a).json()["registered"] == 1
    body = assert_problem(_change(client, world.centre_a, first["id"], {"held": []}), 409)
    assert body["type"].endswith("/registration-withdrawn")
    listed = client.get(url, headers=world.centre_a, params={"status": "withdrawn"}).json()
    assert [i["id"] for i in listed["items"]] == [first["id"]]

    (entry,) = [
        e for e in _audit(client, world, first["id"]) if e["action"] == "registration.withdrawn"
    ]
    assert entry["before"] == "registered"
    assert entry["after"] == {"status": "withdrawn", "reason": "考生申请退考"}
    assert entry["actor"].startswith("centre:")


def test_a_withdrawn_registration_takes_no_results_and_is_not_evaluated(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    s = schedule_session(client, world.centre_a, ["MOHURD-ELEC"])
    stays = _register(client, world, s["id"], registration(adult(1), ["MOHURD-ELEC"]))
    leaves = _register(client, world, s["id"], registration(adult(2), ["MOHURD-ELEC"]))
    assert _withdraw(client, world.centre_a, leaves["id"]).status_code == 200
    exam_clock.start_of(s)

    body = assert_problem(post_results(client, world, s["id"], passing_results([leaves])), 422)
    assert {e["message"] for e in body["errors"]} == {"the registration is withdrawn"}
    absent = client.post(f"/v1/registrations/{leaves['id']}/absence", headers=world.centre_a)
    assert assert_problem(absent, 409)["type"].endswith("/registration-withdrawn")
    assert post_results(client, world, s["id"], passing_results([stays])).status_code == 200

    summary = client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a).json()
    assert (summary["registrations"], summary["qualified"], summary["issuance_requests"]) == (
        1,
        1,
        1,
    )
    outcomes = client.get(f"/v1/sessions/{s['id']}/outcomes", headers=world.centre_a).json()
    assert [o["registration_id"] for o in outcomes["items"]] == [stays["id"]]


def test_change_and_withdrawal_close_at_the_start(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    s = schedule_session(client, world.centre_a, ["MEM-LV", "MOHURD-ELEC"])
    starts = datetime.fromisoformat(s["starts_at"])
    one = _register(client, world, s["id"], registration(adult(1), ["MOHURD-ELEC"]))
    two = _register(client, world, s["id"], registration(adult(2), ["MOHURD-ELEC"]))
    targets = {"targets": ["MEM-LV", "MOHURD-ELEC"]}

    exam_clock.move_to(starts - JUST)
    assert _change(client, world.centre_a, one["id"], targets).status_code == 200
    assert _withdraw(client, world.centre_a, one["id"]).status_code == 200

    exam_clock.move_to(starts + JUST)
    for r in (
        _change(client, world.centre_a, two["id"], targets),
        _withdraw(client, world.centre_a, two["id"]),
    ):
        assert assert_problem(r, 409)["type"].endswith("/session-started")
    after = client.get(f"/v1/registrations/{two['id']}", headers=world.centre_a).json()
    assert after["status"] == "registered" and after["targets"] == ["MOHURD-ELEC"]


def test_another_centre_gets_404_and_an_admin_may_act_for_any(
    world: World, client: TestClient
) -> None:
    s = schedule_session(client, world.centre_a, ["MEM-LV", "MOHURD-ELEC"])
    reg = _register(client, world, s["id"], registration(adult(1), ["MOHURD-ELEC"]))
    targets = {"targets": ["MEM-LV"]}
    assert_problem(_change(client, world.centre_b, reg["id"], targets), 404)
    assert_problem(_withdraw(client, world.centre_b, reg["id"]), 404)
    assert_problem(_withdraw(client, world.centre_a, "reg_does-not-exist"), 404)
    mem = world.departments["mem"]
    assert _change(client, mem, reg["id"], targets).status_code == 403

    r = _change(client, world.admin, reg["id"], targets)
    assert r.status_code == 200 and r.json()["targets"] == ["MEM-LV"]
    assert _withdraw(client, world.admin, reg["id"]).json()["status"] == "withdrawn"
    actors = {e["actor"].split(":")[0] for e in _audit(client, world, reg["id"])}
    assert actors == {"admin"}
