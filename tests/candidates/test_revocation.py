"""``POST /v1/candidate-certificates/{id}/revocation`` and the record as search shows it: who
may revoke, revoking again, the local date, the audit entry, and search items with ``id``,
``status`` and ``revoked``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.support import (
    EXAM_DAY,
    ExamClock,
    World,
    adult,
    assert_problem,
    issue_certificate,
    schedule_session,
)

SEARCH = "/v1/candidate-certificates:search"
REASON = "以欺骗手段取得，依法撤销"


def _revoke(client: TestClient, headers: dict[str, str], certificate_id: str, reason: str = REASON):  # type: ignore[no-untyped-def]
    return client.post(
        f"/v1/candidate-certificates/{certificate_id}/revocation",
        headers=headers,
        json={"reason": reason},
    )


def _record(client: TestClient, headers: dict[str, str], person: str) -> dict[str, dict[str, Any]]:
    r = client.post(SEARCH, headers=headers, json={"id_number": person})
    assert r.status_code == 200, r.text
    return {c["certificate"]: c for c in r.json()["items"]}


def test_only_the_issuing_department_or_an_admin_revokes(
    client: TestClient, world: World, exam_clock: ExamClock
) -> None:
    held = issue_certificate(client, world, adult(1), "MEM-LV", clock=exam_clock)
    for other in ("mohurd", "mohrss", "samr"):  # another department's certificate: not found
        assert_problem(_revoke(client, world.departments[other], held["id"]), 404)
    assert_problem(_revoke(client, world.centre_a, held["id"]), 403)
    assert_problem(_revoke(client, world.departments["mem"], "cc_unknown"), 404)
    assert _record(client, world.admin, adult(1))["MEM-LV"]["status"] == "valid"  # untouched

    first = _revoke(client, world.departments["mem"], held["id"])
    assert first.status_code == 200, first.text
    assert first.json()["number"] == f"T{adult(1)}"  # in full for the issuing department
    again = _revoke(client, world.departments["mem"], held["id"])  # the same reason: no-op
    assert again.status_code == 200 and again.json() == first.json()
    assert _revoke(client, world.admin, held["id"]).json()["revoked"] == first.json()["revoked"]
    other = assert_problem(_revoke(client, world.departments["mem"], held["id"], "另一理由"), 409)
    assert other["type"].endswith("/already-revoked")

    log = client.get("/v1/audit-log", headers=world.admin, params={"limit": 500}).json()["items"]
    (entry,) = [e for e in log if e["action"] == "candidate_certificate.revoked"]
    assert entry["subject"] == held["id"] and entry["actor"].startswith("department:mem:")
    assert entry["after"]["reason"] == REASON
    assert adult(1) not in str(entry)  # the number embeds the ID number: masked


def test_search_items_carry_the_id_the_status_and_the_revocation_on_local_dates(
    client: TestClient, world: World, exam_clock: ExamClock
) -> None:
    person = adult(2)
    ending = issue_certificate(
        client, world, person, "MOHURD-ELEC", clock=exam_clock, issued_on="2025-01-10"
    )
    assert ending["valid_until"] == "2027-01-09" and ending["status"] == "valid"
    held = issue_certificate(client, world, person, "MEM-LV", clock=exam_clock)
    until = held["valid_until"]
    assert held["status"] == "valid" and held["revoked"] is None and held["id"].startswith("cc_")

    # 00:30 in Beijing on 2027-01-10 is still 2027-01-09 in UTC: dates are the local ones
    exam_clock.move_to(datetime.fromisoformat("2027-01-10T00:30:00+08:00"))
    assert _revoke(client, world.departments["mem"], held["id"]).status_code == 200
    for headers in (world.admin, world.departments["mem"], world.departments["mohurd"]):
        record = _record(client, headers, person)
        assert record["MEM-LV"]["id"] == held["id"]
        assert record["MEM-LV"]["status"] == "revoked"
        assert record["MEM-LV"]["revoked"] == {"on": "2027-01-10", "reason": REASON}
        assert record["MEM-LV"]["valid_until"] == until
        assert record["MOHURD-ELEC"]["status"] == "expired"
        assert record["MOHURD-ELEC"]["revoked"] is None
    assert _record(client, world.admin, person)["MEM-LV"]["number"] != f"T{person}"  # masked


def test_a_revoked_certificate_counts_no_more_in_a_plan(
    client: TestClient, world: World, exam_clock: ExamClock
) -> None:
    person = adult(4)
    held = issue_certificate(client, world, person, "MEM-LV", clock=exam_clock)
    body = {"certificates": ["MOHURD-ELEC"], "id_number": person}
    before = client.post("/v1/plans", headers=world.centre_a, json=body).json()
    assert [e["section"] for e in before["exemptions"]] == ["ELEC-TRAINING"]
    assert _revoke(client, world.departments["mem"], held["id"]).status_code == 200
    after = client.post("/v1/plans", headers=world.centre_a, json=body).json()
    assert after["exemptions"] == [] and "ELEC-TRAINING" in after["required_sections"]


def test_a_revoked_certificate_declared_by_its_number_counts_no_more_either(
    client: TestClient, world: World, exam_clock: ExamClock
) -> None:
    """Declaring a revoked certificate (same certificate, same number, in any letter case) does
    not bring it back: it is ignored with reason ``revoked``, in a plan and in a registration."""
    person = adult(5)
    held = issue_certificate(client, world, person, "MEM-LV", clock=exam_clock)
    assert _revoke(client, world.departments["mem"], held["id"]).status_code == 200
    declared = {"certificate": "MEM-LV", "number": f"t{person}", "valid_until": "2032-12-15"}
    body = {"certificates": ["MOHURD-ELEC"], "held": [declared], "id_number": person}
    plan = client.post("/v1/plans", headers=world.centre_a, json=body).json()
    assert plan["exemptions"] == [] and "ELEC-TRAINING" in plan["required_sections"]
    assert [i["reason"]["code"] for i in plan["ignored_held"]] == ["revoked"]

    s = schedule_session(client, world.centre_a, ["MOHURD-ELEC"], day=EXAM_DAY + timedelta(days=60))
    candidate = {"id_number": person, "name": "张三"}
    r = client.post(
        f"/v1/sessions/{s['id']}/registrations",
        headers=world.centre_a,
        json={"candidate": candidate, "targets": ["MOHURD-ELEC"], "held": [declared]},
    )
    assert r.status_code == 201, r.text
    assert r.json()["exemptions"] == [] and "ELEC-TRAINING" in r.json()["required_sections"]
    assert [i["reason"]["code"] for i in r.json()["ignored_held"]] == ["revoked"]

    # another number of the same certificate is not the revoked document
    other = {**declared, "number": "T-OTHER-2025-0001"}
    again = client.post("/v1/plans", headers=world.centre_a, json={**body, "held": [other]})
    assert [e["section"] for e in again.json()["exemptions"]] == ["ELEC-TRAINING"]
