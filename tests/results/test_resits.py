"""Resits (补考, docs/api.md §11): a section passed at a certificate's mark in a sitting that
ended not qualified is carried to a later sitting inside the certificate's window, for at most
``max_resits`` later sittings. The reference catalogue gives 应急管理部 special operations one
resit within 365 days."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.receiver import Receiver, wait_until
from tests.support import (
    EXAM_DAY,
    ExamClock,
    World,
    adult,
    assert_problem,
    post_results,
    register_many,
    registration,
    schedule_session,
)


def sit(
    client: TestClient,
    world: World,
    exam_clock: ExamClock,
    person: str,
    targets: list[str],
    scores: dict[str, Any],
    days_later: int = 0,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Schedule a session ``days_later`` after EXAM_DAY, register, record, finalise."""
    s = schedule_session(client, world.centre_a, targets, day=EXAM_DAY + timedelta(days=days_later))
    (reg,) = register_many(client, world, s["id"], [registration(person, targets)])
    exam_clock.start_of(s)
    rows = [
        {"registration_id": reg["id"], "section": section, **_value(scores[section])}
        for section in reg["required_sections"]
    ]
    assert post_results(client, world, s["id"], rows).status_code == 200
    finalised = client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a)
    assert finalised.status_code == 200, finalised.text
    return s, reg


def _value(value: Any) -> dict[str, Any]:
    return {"passed": value} if isinstance(value, bool) else {"score": value}


def outcome_of(client: TestClient, world: World, s: dict[str, Any]) -> dict[str, str]:
    items = client.get(f"/v1/sessions/{s['id']}/outcomes", headers=world.centre_a).json()
    return {o["certificate"]: o["status"] for o in items["items"]}


FAIL_PRACTICAL = {"ELEC-TRAINING": True, "ELEC-THEORY": 85, "ELEC-PRACTICAL": 70}


def test_a_resit_within_the_window_sits_the_practical_alone_and_the_webhook_names_the_basis(
    delivering: tuple[TestClient, World, Receiver], exam_clock: ExamClock
) -> None:
    client, world, receiver = delivering
    person = adult(1)
    first, first_reg = sit(client, world, exam_clock, person, ["MEM-LV"], FAIL_PRACTICAL)
    assert outcome_of(client, world, first) == {"MEM-LV": "not_qualified"}

    # a plan for the same person already shows what carries
    day = (EXAM_DAY + timedelta(days=90)).isoformat()
    plan = client.post(
        "/v1/plans",
        headers=world.centre_a,
        json={"certificates": ["MEM-LV"], "held": [], "id_number": person, "on": day},
    ).json()
    assert plan["required_sections"] == ["ELEC-PRACTICAL"]

    s = schedule_session(client, world.centre_a, ["MEM-LV"], day=EXAM_DAY + timedelta(days=90))
    (reg,) = register_many(client, world, s["id"], [registration(person, ["MEM-LV"])])
    basis = {"registration_id": first_reg["id"], "exam_date": EXAM_DAY.isoformat()}
    assert reg["required_sections"] == ["ELEC-PRACTICAL"]
    assert reg["carried"] == [
        {
            "target": "MEM-LV",
            "section": "ELEC-TRAINING",
            "score": None,
            "passed": True,
            "basis": basis,
        },
        {"target": "MEM-LV", "section": "ELEC-THEORY", "score": 85, "passed": None, "basis": basis},
    ]
    assert plan["carried"] == reg["carried"]
    exam_clock.start_of(s)
    theory = [{"registration_id": reg["id"], "section": "ELEC-THEORY", "score": 90}]
    body = assert_problem(post_results(client, world, s["id"], theory), 422)
    assert body["errors"][0]["pointer"] == "/results/0/section"  # it is carried, not sat
    practical = [{"registration_id": reg["id"], "section": "ELEC-PRACTICAL", "score": 88}]
    assert post_results(client, world, s["id"], practical).status_code == 200
    assert (
        client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a).json()["qualified"]
        == 1
    )
    outcomes = client.get(f"/v1/sessions/{s['id']}/outcomes", headers=world.centre_a).json()
    (outcome,) = outcomes["items"]
    assert outcome["status"] == "qualified"
    assert outcome["carried"] == reg["carried"]  # what it was judged on, with the basis

    assert wait_until(lambda: len(receiver.calls_to("mem")) == 1)
    data = json.loads(receiver.calls_to("mem")[0].body)["data"]
    sections = {x["code"]: x for x in data["sections"]}
    assert sections["ELEC-THEORY"]["score"] == 85
    assert sections["ELEC-THEORY"]["carried_from"] == basis
    assert sections["ELEC-TRAINING"]["carried_from"] == basis
    assert sections["ELEC-PRACTICAL"]["score"] == 88
    assert "carried_from" not in sections["ELEC-PRACTICAL"]


def test_outside_the_window_or_after_max_resits_everything_is_sat(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    everything = ["ELEC-TRAINING", "ELEC-THEORY", "ELEC-PRACTICAL"]
    late = adult(2)
    sit(client, world, exam_clock, late, ["MEM-LV"], FAIL_PRACTICAL)
    s = schedule_session(client, world.centre_a, ["MEM-LV"], day=EXAM_DAY + timedelta(days=366))
    (reg,) = register_many(client, world, s["id"], [registration(late, ["MEM-LV"])])
    assert (reg["required_sections"], reg["carried"]) == (everything, [])

    again = adult(3)
    sit(client, world, exam_clock, again, ["MEM-LV"], FAIL_PRACTICAL, days_later=1)
    _, resit = sit(client, world, exam_clock, again, ["MEM-LV"], FAIL_PRACTICAL, days_later=31)
    assert resit["required_sections"] == ["ELEC-PRACTICAL"]  # the one resit carries
    s = schedule_session(client, world.centre_a, ["MEM-LV"], day=EXAM_DAY + timedelta(days=61))
    (third,) = register_many(client, world, s["id"], [registration(again, ["MEM-LV"])])
    assert (third["required_sections"], third["carried"]) == (everything, [])


def test_two_targets_of_different_marks_where_only_one_carries(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    person = adult(4)
    sit(client, world, exam_clock, person, ["MEM-LV"], FAIL_PRACTICAL)
    targets = ["MEM-LV", "MOHURD-ELEC"]  # MOHURD-ELEC has no resit rule and its own marks
    s = schedule_session(client, world.centre_a, targets, day=EXAM_DAY + timedelta(days=45))
    (reg,) = register_many(client, world, s["id"], [registration(person, targets)])
    assert {(c["target"], c["section"]) for c in reg["carried"]} == {
        ("MEM-LV", "ELEC-TRAINING"),
        ("MEM-LV", "ELEC-THEORY"),
    }
    assert "ELEC-THEORY" in reg["required_sections"]  # MOHURD-ELEC still needs it
    exam_clock.start_of(s)
    rows = [
        {"registration_id": reg["id"], "section": "ELEC-TRAINING", "passed": True},
        {"registration_id": reg["id"], "section": "ELEC-THEORY", "score": 65},
        {"registration_id": reg["id"], "section": "BUILD-SAFETY", "score": 90},
        {"registration_id": reg["id"], "section": "ELEC-PRACTICAL", "score": 85},
    ]
    assert post_results(client, world, s["id"], rows).status_code == 200
    assert (
        client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a).status_code == 200
    )
    # MEM-LV reads the carried 85 (its mark 80); MOHURD-ELEC today's 65 (its mark 70)
    assert outcome_of(client, world, s) == {"MEM-LV": "qualified", "MOHURD-ELEC": "not_qualified"}


def test_an_absent_sitting_carries_nothing(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    person = adult(5)
    s = schedule_session(client, world.centre_a, ["MEM-LV"])
    (reg,) = register_many(client, world, s["id"], [registration(person, ["MEM-LV"])])
    exam_clock.start_of(s)
    client.post(f"/v1/registrations/{reg['id']}/absence", headers=world.centre_a)
    client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a)
    later = schedule_session(client, world.centre_a, ["MEM-LV"], day=EXAM_DAY + timedelta(days=30))
    (again,) = register_many(client, world, later["id"], [registration(person, ["MEM-LV"])])
    assert again["carried"] == [] and len(again["required_sections"]) == 3
