"""The audit chain is keyed: someone who can write the database but lacks the key cannot
rewrite it, shorten it, or drop its head without ``oneexam audit verify`` failing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.config import Settings
from app.db import create_db_engine, utcnow
from tests.audit.support import audit_cli, audited_history
from tests.support import (
    ExamClock,
    World,
    adult,
    build_world,
    register_many,
    registration,
    schedule_session,
)


def _sha256_of(entry: AuditEntry) -> str:
    """What anyone can compute: the plain SHA-256 of an entry as it is stored."""
    content = {
        "seq": entry.seq,
        "at": entry.at.isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "before": entry.before,
        "after": entry.after,
        "prev": entry.prev_hash,
    }
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _rewrite(
    database_url: str, *, edit_seq: int, recompute_from: int, recompute_to: int | None = None
) -> None:
    """Change one entry and recompute every hash from ``recompute_from`` on (to
    ``recompute_to``, else to the end, and then the head too)."""
    engine = create_db_engine(database_url)
    with Session(engine) as db, db.begin():
        entries = db.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq)).all()
        prev = entries[recompute_from - 2].hash if recompute_from > 1 else "0" * 64
        for entry in entries[recompute_from - 1 : recompute_to]:
            if entry.seq == edit_seq:
                entry.after = {**(entry.after or {}), "value": 95}
            entry.prev_hash = prev
            entry.hash = prev = _sha256_of(entry)
        db.flush()
        db.execute(
            sa.text("update audit_head set seq = :s, hash = :h"), {"s": len(entries), "h": prev}
        )
    engine.dispose()


def _sql(database_url: str, *statements: str) -> None:
    engine = create_db_engine(database_url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    engine.dispose()


def test_an_entry_changed_and_the_chain_recomputed_without_the_key_fails(
    world: World, client: TestClient, settings: Settings, exam_clock: ExamClock
) -> None:
    audited_history(client, world, exam_clock)
    assert audit_cli(settings.database_url, "verify").returncode == 0
    _rewrite(settings.database_url, edit_seq=3, recompute_from=3)
    done = audit_cli(settings.database_url, "verify")
    assert done.returncode == 1 and "broken at entry 3" in done.stderr
    body = client.get("/v1/audit-log/verification", headers=world.admin).json()
    assert body["intact"] is False and body["first_broken"] == 3


def test_the_whole_chain_recomputed_from_the_start_without_the_key_fails(
    world: World, client: TestClient, settings: Settings, exam_clock: ExamClock
) -> None:
    audited_history(client, world, exam_clock)
    _rewrite(settings.database_url, edit_seq=3, recompute_from=1)
    done = audit_cli(settings.database_url, "verify")
    assert done.returncode == 1 and "broken at entry 1" in done.stderr


def test_deleting_the_tail_and_the_head_row_fails(
    world: World, client: TestClient, settings: Settings, exam_clock: ExamClock
) -> None:
    audited_history(client, world, exam_clock)
    _sql(settings.database_url, "delete from audit_log where seq > 2", "delete from audit_head")
    done = audit_cli(settings.database_url, "verify")
    assert done.returncode == 1 and "broken at entry 3" in done.stderr


def test_deleting_the_tail_and_pointing_the_head_at_the_new_tail_fails(
    world: World, client: TestClient, settings: Settings, exam_clock: ExamClock
) -> None:
    audited_history(client, world, exam_clock)
    _sql(
        settings.database_url,
        "delete from audit_log where seq > 2",
        "update audit_head set seq = 2, hash = (select hash from audit_log where seq = 2)",
    )
    done = audit_cli(settings.database_url, "verify")
    assert done.returncode == 1 and "broken at entry 3" in done.stderr


def test_a_log_shorter_than_its_checkpoint_fails_even_with_an_old_head_replayed(
    world: World, client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    s = schedule_session(client, world.centre_a)
    [b] = register_many(client, world, s["id"], [registration(adult(2), ["MEM-LV"])])
    client.post(f"/v1/registrations/{b['id']}/absence", headers=world.centre_a)
    engine = create_db_engine(settings.database_url)
    with engine.connect() as conn:  # what a database reader saw at that moment
        old_head = dict(conn.execute(sa.text("select * from audit_head")).mappings().one())
    engine.dispose()
    client.post(f"/v1/sessions/{s['id']}/cancel", headers=world.centre_a)
    taken = audit_cli(settings.database_url, "checkpoint")
    assert taken.returncode == 0, taken.stderr
    checkpoint = json.loads(taken.stdout)
    assert checkpoint["seq"] >= 2 and {"hash", "at", "signature"} <= checkpoint.keys()
    path = tmp_path / "checkpoint.json"
    path.write_text(taken.stdout)
    assert audit_cli(settings.database_url, "verify", "--checkpoint", str(path)).returncode == 0

    engine = create_db_engine(settings.database_url)
    with engine.begin() as conn:  # drop the newest entry and put back the head as it was
        conn.execute(sa.text("delete from audit_log where seq > :s"), {"s": old_head["seq"]})
        conn.execute(sa.text("delete from audit_head"))
        conn.execute(sa.insert(sa.table("audit_head", *map(sa.column, old_head))), [old_head])
    engine.dispose()
    done = audit_cli(settings.database_url, "verify", "--checkpoint", str(path))
    assert done.returncode == 1 and "shorter than the checkpoint" in done.stderr


def test_a_forged_checkpoint_is_refused(
    world: World, client: TestClient, settings: Settings, tmp_path: Path, exam_clock: ExamClock
) -> None:
    audited_history(client, world, exam_clock)
    checkpoint = json.loads(audit_cli(settings.database_url, "checkpoint").stdout)
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps({**checkpoint, "seq": checkpoint["seq"] - 1}))
    done = audit_cli(settings.database_url, "verify", "--checkpoint", str(path))
    assert done.returncode == 1 and "signature" in done.stderr


def test_a_chain_checked_with_another_key_fails(
    world: World, client: TestClient, settings: Settings, exam_clock: ExamClock
) -> None:
    audited_history(client, world, exam_clock)
    other = "b3RoZXItYXVkaXQta2V5LWZvci10ZXN0cy0wMTIzNDU2Nzg5"
    done = audit_cli(settings.database_url, "verify", audit_key=other)
    assert done.returncode == 1 and "broken at entry 1" in done.stderr


def _write_unkeyed_log(database_url: str, count: int) -> None:
    """A log as an earlier version wrote it: plain SHA-256 hashes, an unsigned head."""
    engine = create_db_engine(database_url)
    with Session(engine) as db, db.begin():
        prev = "0" * 64
        for seq in range(1, count + 1):
            entry = AuditEntry(
                seq=seq, at=utcnow(), actor="centre:CA:key_old", action="results.recorded",
                subject=f"ses_{seq}", before=None, after={"rows": seq}, prev_hash=prev,
            )  # fmt: skip
            entry.hash = prev = _sha256_of(entry)
            db.add(entry)
        db.flush()
        db.execute(
            sa.text("insert into audit_head (id, seq, hash) values (1, :s, :h)"),
            {"s": count, "h": prev},
        )
    engine.dispose()


def test_entries_written_before_the_key_are_sealed_and_then_held_by_the_chain(
    settings: Settings,
) -> None:
    url = settings.database_url
    _write_unkeyed_log(url, 2)
    unsealed = audit_cli(url, "verify")
    assert unsealed.returncode == 1 and "not sealed" in unsealed.stderr
    assert audit_cli(url, "seal").returncode == 0
    assert audit_cli(url, "verify").returncode == 0
    _sql(url, "update audit_log set subject = 'ses_9' where seq = 1")
    done = audit_cli(url, "verify")
    assert done.returncode == 1 and "broken at entry 1" in done.stderr


def test_the_first_audited_write_seals_an_old_log_and_a_rewritten_old_log_fails(
    settings: Settings, client: TestClient
) -> None:
    url = settings.database_url
    _write_unkeyed_log(url, 2)
    world = build_world(client)
    s = schedule_session(client, world.centre_a)
    client.post(f"/v1/sessions/{s['id']}/cancel", headers=world.centre_a)
    entries = client.get("/v1/audit-log", headers=world.admin).json()["items"]
    assert entries[2]["action"] == "audit.sealed" and entries[2]["prev_hash"] == entries[1]["hash"]
    assert audit_cli(url, "verify").returncode == 0
    _rewrite(url, edit_seq=2, recompute_from=1, recompute_to=2)  # the old entries rewritten
    done = audit_cli(url, "verify")
    assert done.returncode == 1 and "broken at entry 3" in done.stderr
    _rewrite(url, edit_seq=2, recompute_from=1)  # and every later hash recomputed too
    done = audit_cli(url, "verify")
    assert done.returncode == 1 and "broken at entry 1" in done.stderr
