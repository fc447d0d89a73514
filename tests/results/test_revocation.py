"""A certificate of the record revoked by its department, and the registrations that rested on
it (docs/api.md §8): re-planned at once before their session starts, checked again at
finalisation once it has started; the webhook never names a revoked certificate."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from tests.receiver import Receiver, wait_until
from tests.support import (
    ExamClock,
    World,
    adult,
    issue_certificate,
    passing_results,
    post_results,
    register_many,
    registration,
    schedule_session,
)

REASON = "证书持有人隐瞒事故责任，依法撤销"
LEVEL4 = ["ELEC-L4-THEORY", "ELEC-L4-PRACTICAL"]


def revoke(client: TestClient, headers: dict[str, str], certificate_id: str, reason: str = REASON):  # type: ignore[no-untyped-def]
    return client.post(
        f"/v1/candidate-certificates/{certificate_id}/revocation",
        headers=headers,
        json={"reason": reason},
    )


def detail(client: TestClient, world: World, registration_id: str) -> dict[str, Any]:
    r = client.get(f"/v1/registrations/{registration_id}", headers=world.centre_a)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def outcomes(client: TestClient, world: World, session_id: str) -> dict[str, dict[str, Any]]:
    r = client.get(f"/v1/sessions/{session_id}/outcomes", headers=world.centre_a)
    return {o["certificate"]: o for o in r.json()["items"]}


def requested(receiver: Receiver, department: str, session_id: str) -> list[dict[str, Any]]:
    bodies = [json.loads(c.body) for c in receiver.calls_to(department)]
    return [
        b["data"]
        for b in bodies
        if b["type"] == "issuance.requested" and b["data"]["session"]["id"] == session_id
    ]


def _registered_on_mem_lv(
    client: TestClient, world: World, exam_clock: ExamClock, person: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The person holds MEM-LV issued through oneexam, and is registered in a later session
    for MOHURD-ELEC (training exempt through MEM-LV) and level 4 (opened through MEM-LV,
    which counts as level 5): the certificate, the session and the registration."""
    held = issue_certificate(client, world, person, "MEM-LV", clock=exam_clock)
    targets = ["MOHURD-ELEC", "MOHRSS-ELEC-L4"]
    s = schedule_session(client, world.centre_a, targets, **exam_clock.session_times())
    (reg,) = register_many(client, world, s["id"], [registration(person, targets)])
    assert reg["exemptions"][0]["section"] == "ELEC-TRAINING"
    assert "ELEC-TRAINING" not in reg["required_sections"]
    return held, s, reg


def test_a_revocation_before_the_exam_re_plans_at_once_and_the_webhook_names_no_exemption(
    delivering: tuple[TestClient, World, Receiver], exam_clock: ExamClock
) -> None:
    client, world, receiver = delivering
    person = adult(1)
    held, s, reg = _registered_on_mem_lv(client, world, exam_clock, person)

    r = revoke(client, world.departments["mem"], held["id"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "revoked" and r.json()["revoked"]["reason"] == REASON

    again = detail(client, world, reg["id"])
    assert "ELEC-TRAINING" in again["required_sections"]  # to be sat again
    assert again["exemptions"] == []
    assert [h["certificate"] for h in again["held"]] == []  # the revoked one is gone
    (replan,) = again["replans"]
    assert "MEM-LV" in replan["reason"] and REASON in replan["reason"]
    assert person not in replan["reason"]  # the certificate number embeds it: masked
    chinese = client.get(
        f"/v1/registrations/{reg['id']}",
        headers={**world.centre_a, "Accept-Language": "zh-CN"},
    ).json()["replans"][0]["reason"]
    assert chinese.startswith("MEM-LV T") and "已吊销" in chinese and REASON in chinese
    assert "报考 MOHURD-ELEC 须参加 ELEC-TRAINING（免考依据已失效）" in chinese
    assert "MOHRSS-ELEC-L4 缺少前置证书，不符合报考条件" in chinese and "；" in chinese
    level4 = {t["certificate"]: t for t in again["eligibility"]}["MOHRSS-ELEC-L4"]
    assert level4["eligible"] is False
    assert [r["code"] for r in level4["reasons"]] == ["missing-prerequisite"]
    assert not set(LEVEL4) & set(again["required_sections"])  # no longer sat for

    exam_clock.start_of(s)
    assert post_results(client, world, s["id"], passing_results([again])).status_code == 200
    summary = client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a).json()
    assert (summary["qualified"], summary["not_eligible"]) == (1, 1), summary
    result = outcomes(client, world, s["id"])
    assert result["MOHURD-ELEC"]["status"] == "qualified"
    assert result["MOHRSS-ELEC-L4"]["status"] == "not_eligible"
    assert result["MOHRSS-ELEC-L4"]["reasons"] == level4["reasons"]

    assert wait_until(lambda: len(requested(receiver, "mohurd", s["id"])) == 1)
    (data,) = requested(receiver, "mohurd", s["id"])
    assert data["exemptions"] == []
    training = {x["code"]: x for x in data["sections"]}["ELEC-TRAINING"]
    assert training["exempted"] is False and training["passed"] is True


def test_a_revocation_after_the_exam_started_counts_the_exemption_as_not_sat(
    client: TestClient, world: World, exam_clock: ExamClock
) -> None:
    held, s, reg = _registered_on_mem_lv(client, world, exam_clock, adult(2))
    exam_clock.start_of(s)
    assert revoke(client, world.departments["mem"], held["id"]).status_code == 200
    assert detail(client, world, reg["id"])["replans"] == []  # under way: left to finalisation

    assert post_results(client, world, s["id"], passing_results([reg])).status_code == 200
    summary = client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a).json()
    assert (summary["qualified"], summary["not_qualified"], summary["not_eligible"]) == (0, 1, 1)
    result = outcomes(client, world, s["id"])
    construction = result["MOHURD-ELEC"]
    assert construction["status"] == "not_qualified"
    assert [(f["section"], f["code"]) for f in construction["failures"]] == [
        ("ELEC-TRAINING", "exemption-withdrawn")
    ]
    assert construction["exemptions"] == []
    assert result["MOHRSS-ELEC-L4"]["status"] == "not_eligible"
    assert result["MOHRSS-ELEC-L4"]["reasons"]


def test_a_revoked_prerequisite_counted_through_an_equivalence_ends_not_eligible(
    client: TestClient, world: World, exam_clock: ExamClock
) -> None:
    person = adult(3)
    held = issue_certificate(client, world, person, "MEM-LV", clock=exam_clock)
    s = schedule_session(client, world.centre_a, ["MOHRSS-ELEC-L4"], **exam_clock.session_times())
    (reg,) = register_many(client, world, s["id"], [registration(person, ["MOHRSS-ELEC-L4"])])
    assert reg["required_sections"] == LEVEL4

    assert revoke(client, world.admin, held["id"]).status_code == 200  # an admin may revoke
    again = detail(client, world, reg["id"])
    assert again["required_sections"] == []
    (replan,) = again["replans"]
    assert "MOHRSS-ELEC-L4 lost its prerequisite" in replan["reason"]
    (target,) = again["eligibility"]
    (reason,) = target["reasons"]
    assert not target["eligible"] and reason["code"] == "missing-prerequisite"
    assert "MOHRSS-ELEC-L5" in reason["message"]

    exam_clock.start_of(s)
    summary = client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a)
    assert summary.status_code == 200, summary.text  # nothing left to sit, nothing missing
    assert summary.json()["not_eligible"] == 1 and summary.json()["issuance_requests"] == 0
    assert outcomes(client, world, s["id"])["MOHRSS-ELEC-L4"]["status"] == "not_eligible"


def test_the_level_4_webhook_names_the_held_certificate_with_via_and_never_a_revoked_one(
    delivering: tuple[TestClient, World, Receiver], exam_clock: ExamClock
) -> None:
    client, world, receiver = delivering
    person, paper = (
        adult(4),
        {"certificate": "MEM-LV", "number": "LV-PAPER-7", "valid_until": "2030-01-01"},
    )
    held = issue_certificate(client, world, person, "MEM-LV", clock=exam_clock)
    s = schedule_session(client, world.centre_a, ["MOHRSS-ELEC-L4"], **exam_clock.session_times())
    # two documents open level 4 through MEM-LV (视同 level 5): the verified one is preferred,
    # a declared one of its own stays
    (reg,) = register_many(
        client, world, s["id"], [registration(person, ["MOHRSS-ELEC-L4"], [paper])]
    )
    exam_clock.start_of(s)
    assert revoke(client, world.departments["mem"], held["id"]).status_code == 200
    assert post_results(client, world, s["id"], passing_results([reg])).status_code == 200
    summary = client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a).json()
    assert summary["qualified"] == 1, summary

    assert wait_until(lambda: len(requested(receiver, "mohrss", s["id"])) == 1)
    (data,) = requested(receiver, "mohrss", s["id"])
    assert data["prerequisite"] == {
        "certificate": "MOHRSS-ELEC-L5",
        "basis": {
            "certificate": "MEM-LV",
            "number": "LV-PAPER-7",  # not the revoked T…: the webhook never names it
            "via": [{"held": "MEM-LV", "counts_as": "MOHRSS-ELEC-L5"}],
        },
    }


def test_a_certificate_withdrawn_by_an_amendment_re_plans_the_later_registration(
    client: TestClient, world: World, exam_clock: ExamClock
) -> None:
    held, _, reg = _registered_on_mem_lv(client, world, exam_clock, adult(5))
    mem_lv = client.get(f"/v1/issuance-requests/{held['issuance_request_id']}", headers=world.admin)
    earlier = mem_lv.json()["registration_id"]
    amended = client.post(
        f"/v1/registrations/{earlier}/results/ELEC-THEORY/amendments",
        headers=world.centre_a,
        json={"score": 60, "reason": "复核：第 12 题误判"},
    )
    assert amended.status_code == 201, amended.text
    record = client.post(
        "/v1/candidate-certificates:search", headers=world.admin, json={"id_number": adult(5)}
    ).json()["items"]
    assert [c["status"] for c in record] == ["revoked"]

    again = detail(client, world, reg["id"])
    (replan,) = again["replans"]
    assert "no longer qualified after an amendment" in replan["reason"]
    assert "ELEC-TRAINING" in again["required_sections"] and again["exemptions"] == []
