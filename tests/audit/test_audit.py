"""The audit log is append-only and tamper-evident: editing or deleting a row is detected."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.db import create_db_engine
from tests.support import (
    ELEC3,
    TEST_PII_KEY,
    World,
    adult,
    electrician_results,
    post_results,
    register_many,
    registration,
    schedule_session,
)


def _make_history(client: TestClient, world: World) -> str:
    s = schedule_session(client, world.centre_a)
    a, b = register_many(
        client, world, s["id"], [registration(adult(1), ELEC3), registration(adult(2), ["MEM-LV"])]
    )
    client.post(f"/v1/registrations/{b['id']}/absence", headers=world.centre_a)
    post_results(client, world, s["id"], electrician_results(a["id"]))
    client.post(
        f"/v1/registrations/{a['id']}/results/ELEC-THEORY/amendments",
        headers=world.centre_a,
        json={"score": 81, "reason": "复核"},
    )
    client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a)
    return str(s["id"])


def _verify_cli(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ONEEXAM_DATABASE_URL": database_url, "ONEEXAM_PII_KEY": TEST_PII_KEY}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
    )


def test_every_outcome_changing_write_is_chained_and_verifies(
    world: World, client: TestClient, settings
) -> None:  # type: ignore[no-untyped-def]
    session_id = _make_history(client, world)
    entries = client.get("/v1/audit-log", headers=world.admin).json()["items"]
    assert [e["action"] for e in entries] == [
        "registration.absent",
        "results.recorded",
        "result.amended",
        "session.finalised",
    ]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert all(e["prev_hash"] == p["hash"] for p, e in itertools.pairwise(entries))
    assert (
        entries[2]["before"] == 75
        and entries[2]["after"]["value"] == 81
        and entries[2]["after"]["reason"] == "复核"
    )
    assert "reevaluation" not in entries[2]["after"]  # the session was not finalised yet
    assert entries[3]["subject"] == session_id and entries[3]["actor"].startswith("centre:CA:")
    assert client.get("/v1/audit-log/verification", headers=world.admin).json() == {
        "intact": True,
        "entries": 4,
        "first_broken": None,
        "problem": None,
    }
    done = _verify_cli(settings.database_url)
    assert done.returncode == 0 and "4 entries verified" in done.stderr
    assert client.get("/v1/audit-log", headers=world.centre_a).status_code == 403


def test_editing_a_row_in_the_database_breaks_verification_at_that_row(
    world: World, client: TestClient, settings
) -> None:  # type: ignore[no-untyped-def]
    _make_history(client, world)
    engine = create_db_engine(settings.database_url)
    audit_log = sa.table("audit_log", sa.column("seq"), sa.column("after", sa.JSON))
    with engine.begin() as conn:  # someone with database access "improves" an amendment
        conn.execute(
            sa.update(audit_log)
            .where(audit_log.c.seq == 3)
            .values(after={"value": 95, "reason": "复核"})
        )
    engine.dispose()
    done = _verify_cli(settings.database_url)
    assert done.returncode == 1 and "broken at entry 3" in done.stderr
    body = client.get("/v1/audit-log/verification", headers=world.admin).json()
    assert body["intact"] is False and body["first_broken"] == 3


def test_deleting_the_latest_row_is_detected(world: World, client: TestClient, settings) -> None:  # type: ignore[no-untyped-def]
    _make_history(client, world)
    engine = create_db_engine(settings.database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("delete from audit_log where seq = 4"))
    engine.dispose()
    body = client.get("/v1/audit-log/verification", headers=world.admin).json()
    assert body["intact"] is False and body["first_broken"] == 4
