"""Reasons in the API are objects {code, message}: plans, refused registrations, ignored
certificates, outcomes; and registrations stored with the sentences of before read with codes."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.db import create_db_engine
from tests.support import World, adult, assert_problem, id_number, registration, schedule_session

SEVENTEEN = id_number(date(2009, 12, 16), 7)


def test_plans_give_each_reason_a_code_and_a_message(world: World, client: TestClient) -> None:
    r = client.post(
        "/v1/plans",
        headers=world.centre_a,
        json={
            "certificates": ["MEM-LV", "MOHRSS-ELEC-L4"],
            "held": [{"certificate": "MEM-HV", "number": "HV-1", "valid_until": "2026-01-31"}],
            "id_number": SEVENTEEN,
            "on": "2026-12-15",
        },
    )
    assert r.status_code == 200, r.text
    targets = {t["certificate"]: t["reasons"] for t in r.json()["targets"]}
    assert targets == {
        "MEM-LV": [
            {
                "code": "too-young",
                "message": "age 16 on 2026-12-15 is below the minimum age 18 for MEM-LV",
            }
        ],
        "MOHRSS-ELEC-L4": [
            {
                "code": "missing-prerequisite",
                "message": "MOHRSS-ELEC-L4 requires holding one of MOHRSS-ELEC-L5 (directly or "
                "counted as held); none is held",
            }
        ],
    }
    assert r.json()["ignored_held"][0]["reason"] == {
        "code": "expired",
        "message": "expired on 2026-01-31, before 2026-12-15",
    }


def test_a_refused_registration_names_the_codes_per_target(
    world: World, client: TestClient
) -> None:
    s = schedule_session(client, world.centre_a, ["MEM-LV", "MOHRSS-ELEC-L5"])
    r = client.post(
        f"/v1/sessions/{s['id']}/registrations",
        headers=world.centre_a,
        json=registration(SEVENTEEN, ["MEM-LV", "MOHRSS-ELEC-L5"]),
    )
    body = assert_problem(r, 422)
    assert [(e["pointer"], e["message"]) for e in body["errors"]] == [
        ("/targets/0", "age 16 on 2026-12-15 is below the minimum age 18 for MEM-LV")
    ]
    assert [[x["code"] for x in t["reasons"]] for t in body["targets"]] == [["too-young"], []]


def test_a_plan_stored_with_sentences_is_read_with_codes(
    world: World, client: TestClient, settings
) -> None:  # type: ignore[no-untyped-def]
    s = schedule_session(client, world.centre_a, ["MOHURD-ELEC"])
    held = [{"certificate": "MEM-LV", "number": "LV-1", "valid_until": "2026-06-30"}]
    r = client.post(
        f"/v1/sessions/{s['id']}/registrations",
        headers=world.centre_a,
        json=registration(adult(1), ["MOHURD-ELEC"], held),
    )
    assert r.status_code == 201, r.text
    expired = {"code": "expired", "message": "expired on 2026-06-30, before 2026-12-15"}
    assert r.json()["ignored_held"][0]["reason"] == expired

    engine = create_db_engine(settings.database_url)
    try:
        with engine.begin() as conn:  # the registration as it was stored before reasons had codes
            stored = conn.execute(sa.text("select plan from registrations")).scalar_one()
            plan = stored if isinstance(stored, dict) else __import__("json").loads(stored)
            plan["ignored_held"][0]["reason"] = "expired on 2026-06-30, before 2026-12-15"
            conn.execute(
                sa.update(sa.table("registrations", sa.column("plan", sa.JSON))).values(plan=plan)
            )
    finally:
        engine.dispose()
    listed = client.get(f"/v1/sessions/{s['id']}/registrations", headers=world.centre_a).json()
    assert listed["items"][0]["ignored_held"][0]["reason"] == expired


def test_the_openapi_schema_documents_reasons(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    reason = schemas["Reason"]
    assert reason["required"] == ["code", "message"] and reason["examples"]
    assert {"too-young", "already-held", "expired", "exemption-withdrawn"} <= set(
        schemas["ReasonCode"]["enum"]
    )
    assert schemas["TargetOut"]["properties"]["reasons"]["items"] == {
        "$ref": "#/components/schemas/Reason"
    }
