"""Certificate numbers that embed an ID number ("T" + the number) are masked in every response
except to the issuing department; audit entries never hold the ID number in clear."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi.testclient import TestClient

from tests.support import ExamClock, World, adult, qualify, registration, schedule_session

PERSON = adult(21)
NUMBER = "T" + PERSON
MASKED = "T" + PERSON[:6] + "********" + PERSON[14:]


def _issue(client: TestClient, world: World, clock: ExamClock) -> dict[str, Any]:
    """PERSON qualifies for MEM-LV at centre A and the department issues NUMBER."""
    qualify(client, world, [(PERSON, ["MEM-LV"])], clock=clock)
    [request] = client.get("/v1/issuance-requests", headers=world.departments["mem"]).json()[
        "items"
    ]
    decision = {"decision": "issued", "certificate_number": NUMBER, "issued_on": "2026-12-20"}
    r = client.post(
        f"/v1/issuance-requests/{request['id']}/decision",
        headers=world.departments["mem"],
        json=decision,
    )
    assert r.status_code == 200, r.text
    return dict(request)


def _numbers(client: TestClient, headers: dict[str, str]) -> list[str]:
    r = client.post(
        "/v1/candidate-certificates:search", headers=headers, json={"id_number": PERSON}
    )
    assert r.status_code == 200, r.text
    return [c["number"] for c in r.json()["items"]]


def test_search_and_decisions_mask_the_number_except_for_the_issuing_department(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    request = _issue(client, world, exam_clock)
    assert _numbers(client, world.departments["mem"]) == [NUMBER]
    for other in (world.departments["mohurd"], world.centre_a, world.admin):
        assert _numbers(client, other) == [MASKED]
    url = f"/v1/issuance-requests/{request['id']}"
    mine = client.get(url, headers=world.departments["mem"]).json()
    assert mine["decision"]["certificate_number"] == NUMBER
    theirs = client.get(url, headers=world.centre_a).json()
    assert theirs["decision"]["certificate_number"] == MASKED and PERSON not in str(theirs)


def test_registrations_and_plans_mask_declared_and_verified_numbers(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    _issue(client, world, exam_clock)
    declared = [{"certificate": "MEM-HV", "number": "T" + adult(22)}]
    s = schedule_session(client, world.centre_b, ["MOHURD-ELEC"], day=date(2027, 3, 1))
    r = client.post(
        f"/v1/sessions/{s['id']}/registrations",
        headers=world.centre_b,
        json=registration(PERSON, ["MOHURD-ELEC"], held=declared),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    masked_declared = "T" + adult(22)[:6] + "********" + adult(22)[14:]
    assert {h["number"] for h in body["held"]} == {
        MASKED,
        "T" + adult(22)[:6] + "********" + adult(22)[14:],
    }
    assert body["exemptions"]  # the verified MEM-LV exempts the training
    assert {e["basis"]["number"] for e in body["exemptions"]} <= {MASKED, masked_declared}
    again = client.get(f"/v1/registrations/{body['id']}", headers=world.centre_b).json()
    assert PERSON not in str(again) and adult(22) not in str(again)
    plan = client.post(
        "/v1/plans",
        headers=world.centre_b,
        json={"certificates": ["MOHURD-ELEC"], "held": declared, "id_number": PERSON},
    )
    assert plan.status_code == 200, plan.text
    assert adult(22) not in plan.text and PERSON not in plan.text


def test_audit_entries_hold_no_id_number_in_clear(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    _issue(client, world, exam_clock)
    items = client.get("/v1/audit-log", headers=world.admin, params={"limit": 500}).json()
    assert PERSON not in str(items) and MASKED in str(items)
