"""Certificate numbers that embed an ID number ("T" + the number) are masked in every response
except to the issuing department; audit entries never hold the ID number in clear; no
certificate number is stored in clear anywhere, and the audit chain covers the sealed ones."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import create_db_engine
from app.sealed import SealedNumbers, SealedText
from tests.support import (
    ExamClock,
    World,
    adult,
    every_stored_value,
    oneexam_env,
    passing_results,
    post_results,
    qualify,
    registration,
    schedule_session,
)

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


def test_outcomes_mask_the_numbers_their_exemptions_rest_on(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    """A centre reads its outcomes with each exemption's basis: the number masked, as in the
    plan it was registered with."""
    declared = [{"certificate": "MEM-LV", "number": NUMBER, "valid_until": "2031-06-30"}]
    s = schedule_session(client, world.centre_a, ["MOHURD-ELEC"])
    r = client.post(
        f"/v1/sessions/{s['id']}/registrations",
        headers=world.centre_a,
        json=registration(PERSON, ["MOHURD-ELEC"], held=declared),
    )
    assert r.status_code == 201, r.text
    assert r.json()["exemptions"]  # MEM-LV exempts the training
    exam_clock.start_of(s)
    recorded = post_results(client, world, s["id"], passing_results([r.json()]))
    assert recorded.status_code == 200, recorded.text
    finalised = client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a)
    assert finalised.status_code == 200, finalised.text
    outcomes = client.get(f"/v1/sessions/{s['id']}/outcomes", headers=world.centre_a).json()
    (outcome,) = outcomes["items"]
    assert [e["basis"]["number"] for e in outcome["exemptions"]] == [MASKED]
    detail = client.get(f"/v1/registrations/{r.json()['id']}", headers=world.centre_a)
    assert PERSON not in detail.text and PERSON not in str(outcomes)


def test_audit_entries_hold_no_id_number_in_clear(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    _issue(client, world, exam_clock)
    items = client.get("/v1/audit-log", headers=world.admin, params={"limit": 500}).json()
    assert PERSON not in str(items) and MASKED in str(items)


def test_no_certificate_number_or_id_number_is_stored_in_clear(
    world: World, client: TestClient, settings: Settings, exam_clock: ExamClock
) -> None:
    plain_issued, plain_declared = "MEM-2026-000777", "RS-2019-004711"
    declared_holder, other = adult(22), adult(23)
    declared = [
        {"certificate": "MEM-HV", "number": "T" + declared_holder, "valid_until": "2030-01-01"},
        {"certificate": "MOHRSS-ELEC-L5", "number": plain_declared, "valid_until": "2020-01-01"},
    ]
    _, regs = qualify(client, world, [(PERSON, ["MEM-LV"]), (other, ["MEM-LV"])], clock=exam_clock)
    requests = client.get("/v1/issuance-requests", headers=world.departments["mem"]).json()
    for request in requests["items"]:
        number = NUMBER if request["registration_id"] == regs[0]["id"] else plain_issued
        decision = {"decision": "issued", "certificate_number": number, "issued_on": "2026-12-20"}
        r = client.post(
            f"/v1/issuance-requests/{request['id']}/decision",
            headers=world.departments["mem"],
            json=decision,
        )
        assert r.status_code == 200, r.text
    # a later sitting: the verified MEM-LV and the declared certificates are the plan's basis
    s = schedule_session(client, world.centre_a, ["MOHURD-ELEC"], **exam_clock.session_times())
    r = client.post(
        f"/v1/sessions/{s['id']}/registrations",
        headers=world.centre_a,
        json=registration(PERSON, ["MOHURD-ELEC"], held=declared),
    )
    assert r.status_code == 201, r.text
    later = r.json()
    assert later["exemptions"] and later["ignored_held"]  # both kinds of number are in the plan
    plan = {"certificates": ["MOHURD-ELEC"], "held": declared, "id_number": PERSON}
    assert client.post("/v1/plans", headers=world.centre_a, json=plan).status_code == 200
    exam_clock.start_of(s)
    results = {"results": passing_results([later])}
    r = client.post(f"/v1/sessions/{s['id']}/results", headers=world.centre_a, json=results)
    assert r.status_code == 200, r.text
    r = client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a)
    assert r.status_code == 200 and r.json()["qualified"] == 1, r.text

    stored = every_stored_value(settings.database_url)
    assert regs[0]["id"] in stored and "MOHURD-ELEC" in stored  # the dump does see the rows
    for clear in (PERSON, other, declared_holder, NUMBER, "T" + declared_holder):
        assert clear not in stored and clear.lower() not in stored, f"{clear} is stored in clear"
    for clear in (plain_issued, plain_declared):
        assert clear not in stored, f"{clear} is stored in clear"
    # and everything still reads back: the issuing department sees its numbers in full
    assert _numbers(client, world.departments["mem"]) == [NUMBER]
    detail = client.get(f"/v1/registrations/{later['id']}", headers=world.centre_a).json()
    assert {h["number"] for h in detail["held"]} >= {MASKED, plain_declared}


def _verify(database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "audit", "verify"],
        env=oneexam_env(database_url),
        capture_output=True,
        text=True,
    )


def test_the_audit_chain_covers_sealed_numbers_and_a_swapped_one_breaks_it(
    world: World, client: TestClient, settings: Settings, exam_clock: ExamClock
) -> None:
    _issue(client, world, exam_clock)
    url = settings.database_url
    assert _verify(url).returncode == 0  # the command unseals them as the service does
    engine = create_db_engine(url)
    with engine.begin() as conn:
        seq, after = conn.execute(
            sa.text("select seq, cast(after as text) from audit_log where action = :a"),
            {"a": "issuance.decided"},
        ).one()
        sealed = json.loads(after)["certificate_number"]
        # a database writer without the key can only move ciphertexts around, or garble them
        moved = conn.execute(sa.text("select number from candidate_certificates")).scalar_one()
        value = "cast(:v as json)" if engine.dialect.name == "postgresql" else ":v"
        conn.execute(
            sa.text(f"update audit_log set after = {value} where seq = :s"),
            {"v": after.replace(sealed, moved), "s": seq},
        )
    engine.dispose()
    done = _verify(url)
    assert done.returncode == 1 and f"broken at entry {seq}" in done.stderr, done.stderr
    body = client.get("/v1/audit-log/verification", headers=world.admin).json()
    assert body["intact"] is False and body["first_broken"] == seq


def test_a_number_is_never_written_in_clear_to_a_database_without_a_vault() -> None:
    engine = sa.create_engine("sqlite://")
    with pytest.raises(RuntimeError, match="no PII vault"):
        SealedText("t.c").process_bind_param(NUMBER, engine.dialect)
    with pytest.raises(RuntimeError, match="no PII vault"):
        SealedNumbers("t.c").process_bind_param([{"number": NUMBER}], engine.dialect)
    # JSON without numbers needs no vault
    assert SealedNumbers("t.c").process_bind_param([{"section": "X"}], engine.dialect) == [
        {"section": "X"}
    ]
    engine.dispose()
