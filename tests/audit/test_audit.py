"""The audit log is append-only and tamper-evident: editing or deleting a row is detected."""

from __future__ import annotations

import itertools

import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.db import create_db_engine
from tests.audit.support import audit_cli, audited_history
from tests.support import (
    ExamClock,
    World,
)


def test_every_outcome_changing_write_is_chained_and_verifies(
    world: World, client: TestClient, settings, exam_clock: ExamClock
) -> None:  # type: ignore[no-untyped-def]
    # Setting up the world (departments, keys, the catalogue) is audited too: count from there.
    log = {"limit": 500}
    base = len(client.get("/v1/audit-log", headers=world.admin, params=log).json()["items"])
    session_id = audited_history(client, world, exam_clock)
    entries = client.get("/v1/audit-log", headers=world.admin, params=log).json()["items"][base:]
    assert [e["action"] for e in entries] == [
        "registrations.created",
        "registration.absent",
        "results.recorded",
        "result.amended",
        "session.finalised",
    ]
    assert [e["seq"] for e in entries] == [base + n for n in (1, 2, 3, 4, 5)]
    assert all(e["prev_hash"] == p["hash"] for p, e in itertools.pairwise(entries))
    assert (
        entries[3]["before"] == 75
        and entries[3]["after"]["value"] == 81
        and entries[3]["after"]["reason"] == "复核"
    )
    assert "reevaluation" not in entries[3]["after"]  # the session was not finalised yet
    assert entries[4]["subject"] == session_id and entries[4]["actor"].startswith("centre:CA:")
    assert client.get("/v1/audit-log/verification", headers=world.admin).json() == {
        "intact": True,
        "entries": base + 5,
        "first_broken": None,
        "problem": None,
    }
    done = audit_cli(settings.database_url, "verify")
    assert done.returncode == 0 and f"{base + 5} entries verified" in done.stderr
    assert client.get("/v1/audit-log", headers=world.centre_a).status_code == 403


def test_editing_a_row_in_the_database_breaks_verification_at_that_row(
    world: World, client: TestClient, settings, exam_clock: ExamClock
) -> None:  # type: ignore[no-untyped-def]
    audited_history(client, world, exam_clock)
    engine = create_db_engine(settings.database_url)
    audit_log = sa.table(
        "audit_log", sa.column("seq"), sa.column("action"), sa.column("after", sa.JSON)
    )
    with engine.begin() as conn:  # someone with database access "improves" an amendment
        seq = conn.scalar(sa.select(audit_log.c.seq).where(audit_log.c.action == "result.amended"))
        conn.execute(
            sa.update(audit_log)
            .where(audit_log.c.seq == seq)
            .values(after={"value": 95, "reason": "复核"})
        )
    engine.dispose()
    done = audit_cli(settings.database_url, "verify")
    assert done.returncode == 1 and f"broken at entry {seq}" in done.stderr
    body = client.get("/v1/audit-log/verification", headers=world.admin).json()
    assert body["intact"] is False and body["first_broken"] == seq


def test_deleting_the_latest_row_is_detected(
    world: World, client: TestClient, settings, exam_clock: ExamClock
) -> None:  # type: ignore[no-untyped-def]
    audited_history(client, world, exam_clock)
    engine = create_db_engine(settings.database_url)
    with engine.begin() as conn:
        latest = conn.scalar(sa.text("select max(seq) from audit_log"))
        conn.execute(sa.text("delete from audit_log where seq = :s"), {"s": latest})
    engine.dispose()
    body = client.get("/v1/audit-log/verification", headers=world.admin).json()
    assert body["intact"] is False and body["first_broken"] == latest
