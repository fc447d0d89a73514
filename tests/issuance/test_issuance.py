"""Issuance requests as departments see them: what the webhook names (exam date, the basis of
every exemption and of the prerequisite, with ``via``), decisions within the certificate's
validity, and a rejected request that no re-evaluation touches."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from app import rules
from app.db import create_db_engine
from tests.delivery.test_delivery import start_env
from tests.receiver import Receiver, wait_until
from tests.support import (
    ExamClock,
    World,
    adult,
    assert_problem,
    id_number,
    passing_results,
    qualify,
    registration,
    schedule_session,
)

HELD_UNTIL = (date.today() + timedelta(days=3 * 365)).isoformat()


def _finalised(
    client: TestClient, world: World, exam_clock: ExamClock, row: dict[str, Any]
) -> dict[str, Any]:
    """One registration in a session of its own, passed in everything it sits, finalised."""
    s = schedule_session(client, world.centre_a, row["targets"])
    r = client.post(f"/v1/sessions/{s['id']}/registrations", headers=world.centre_a, json=row)
    assert r.status_code == 201, r.text
    exam_clock.start_of(s)
    results = passing_results([r.json()])
    r2 = client.post(
        f"/v1/sessions/{s['id']}/results", headers=world.centre_a, json={"results": results}
    )
    assert r2.status_code == 200, r2.text
    assert (
        client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a).status_code == 200
    )
    return s


def _pulled(client: TestClient, world: World, department: str) -> list[dict[str, Any]]:
    r = client.get("/v1/issuance-requests", headers=world.departments[department])
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


def test_the_webhook_names_the_exam_date_and_every_basis_with_via(
    client: TestClient, world: World, exam_clock: ExamClock
) -> None:
    # MEM-LV counts as MOHRSS-ELEC-L5 (视同), the prerequisite of level 4; it also exempts
    # MOHURD-ELEC's training, held directly.
    held = [{"certificate": "MEM-LV", "number": "T-LV-0001", "valid_until": HELD_UNTIL}]
    s = _finalised(
        client, world, exam_clock, registration(adult(1), ["MOHRSS-ELEC-L4", "MOHURD-ELEC"], held)
    )
    (level4,) = _pulled(client, world, "mohrss")
    data = level4["payload"]
    assert data["session"]["exam_date"] == s["exam_date"]
    assert data["prerequisite"] == {
        "certificate": "MOHRSS-ELEC-L5",
        "basis": {
            "certificate": "MEM-LV",
            "number": "T-LV-0001",
            "via": [{"held": "MEM-LV", "counts_as": "MOHRSS-ELEC-L5"}],
        },
    }
    (construction,) = _pulled(client, world, "mohurd")
    assert construction["payload"]["prerequisite"] is None
    assert construction["payload"]["exemptions"] == [
        {
            "section": "ELEC-TRAINING",
            "basis": {"certificate": "MEM-LV", "number": "T-LV-0001", "via": []},
        }
    ]


def test_valid_until_defaults_to_the_validity_and_may_not_exceed_it(
    client: TestClient, world: World, exam_clock: ExamClock
) -> None:
    _finalised(client, world, exam_clock, registration(adult(2), ["MEM-LV"]))
    (request,) = _pulled(client, world, "mem")
    url = f"/v1/issuance-requests/{request['id']}/decision"
    issued = {
        "decision": "issued",
        "certificate_number": "T110105199005170021",
        "issued_on": "2026-12-20",
    }
    mem = world.departments["mem"]
    body = assert_problem(
        client.post(url, headers=mem, json={**issued, "valid_until": "2032-12-20"}), 422
    )
    assert (
        body["errors"][0]["pointer"] == "/valid_until"
        and "2032-12-19" in body["errors"][0]["message"]
    )
    r = client.post(url, headers=mem, json=issued)  # six years from 2026-12-20: to 2032-12-19
    assert r.status_code == 200, r.text
    assert r.json()["decision"]["valid_until"] == "2032-12-19"
    # the same decision again, naming the default explicitly, is the same decision
    again = client.post(url, headers=mem, json={**issued, "valid_until": "2032-12-19"})
    assert again.status_code == 200, again.text


def test_a_lifelong_certificate_takes_any_valid_until(
    client: TestClient, world: World, exam_clock: ExamClock
) -> None:
    _finalised(client, world, exam_clock, registration(adult(3), ["MOHRSS-ELEC-L5"]))
    (request,) = _pulled(client, world, "mohrss")
    r = client.post(
        f"/v1/issuance-requests/{request['id']}/decision",
        headers=world.departments["mohrss"],
        json={"decision": "issued", "certificate_number": "L5-0003", "issued_on": "2026-12-20"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["decision"]["valid_until"] is None


def test_a_rejected_request_is_neither_cancelled_nor_told_of_a_cancellation(
    fresh_database_url: str, exam_clock: ExamClock
) -> None:
    with Receiver() as receiver, start_env(fresh_database_url, receiver) as env:
        _, (reg,) = qualify(env.client, env.world, [(adult(4), ["MEM-LV"])], clock=exam_clock)
        assert wait_until(lambda: env.statuses() == ["delivered"])
        (request,) = env.requests()
        r = env.client.post(
            f"/v1/issuance-requests/{request['id']}/decision",
            headers=env.world.departments["mem"],
            json={"decision": "rejected", "reason": "资料不全"},
        )
        assert r.status_code == 200, r.text
        amended = env.client.post(
            f"/v1/registrations/{reg['id']}/results/ELEC-THEORY/amendments",
            headers=env.world.centre_a,
            json={"score": 10, "reason": "复核"},
        )
        assert amended.status_code == 201, amended.text
        env.wait_idle()
        assert env.statuses() == ["rejected"]
        assert [json.loads(c.body)["type"] for c in receiver.calls_to("mem")] == [
            "issuance.requested"
        ]
        engine = create_db_engine(env.settings.database_url)
        with engine.connect() as conn:
            cancelled = conn.execute(
                sa.text("select count(*) from deliveries where event_type = 'issuance.cancelled'")
            ).scalar_one()
        engine.dispose()
        assert cancelled == 0


def test_a_certificate_number_embedding_another_persons_id_number_is_refused(
    client: TestClient, world: World, exam_clock: ExamClock
) -> None:
    """特种作业操作证 numbers are "T" + the holder's ID number: one that embeds someone else's
    would give that person's number to this one (a request picked from the wrong row)."""
    person, other = adult(41), adult(42)
    qualify(client, world, [(person, ["MEM-LV"])], clock=exam_clock)
    (request,) = _pulled(client, world, "mem")
    url = f"/v1/issuance-requests/{request['id']}/decision"
    decision = {"decision": "issued", "issued_on": "2026-12-16"}
    refused = client.post(
        url, headers=world.departments["mem"], json={**decision, "certificate_number": f"T{other}"}
    )
    body = assert_problem(refused, 422)
    assert [e["pointer"] for e in body["errors"]] == ["/certificate_number"]
    assert other not in refused.text  # the other person's number is not echoed in clear
    unchanged = client.get(f"/v1/issuance-requests/{request['id']}", headers=world.admin).json()
    assert unchanged["decision"] is None  # nothing was decided
    chinese = client.post(
        url,
        headers={**world.departments["mem"], "Accept-Language": "zh-CN"},
        json={**decision, "certificate_number": f"T{other}"},
    )
    assert "他人的公民身份号码" in assert_problem(chinese, 422)["detail"]
    issued = client.post(
        url, headers=world.departments["mem"], json={**decision, "certificate_number": f"T{person}"}
    )
    assert issued.status_code == 200, issued.text


def test_a_number_with_the_candidates_own_id_number_and_more_digits_is_issued(
    client: TestClient, world: World, exam_clock: ExamClock
) -> None:
    """Other schemes put digits after the ID number: windows shifted into them can read as
    another valid ID number (here 010519 born 9005-10-10), which is not someone else's."""
    person = id_number(date(1990, 5, 10), 100)
    number = f"T{person}06"
    assert len(rules.embedded_id_numbers(number)) == 2  # the person's, and the shifted one
    qualify(client, world, [(person, ["MEM-LV"])], clock=exam_clock)
    (request,) = _pulled(client, world, "mem")
    issued = client.post(
        f"/v1/issuance-requests/{request['id']}/decision",
        headers=world.departments["mem"],
        json={"decision": "issued", "issued_on": "2026-12-16", "certificate_number": number},
    )
    assert issued.status_code == 200, issued.text
