"""The delivery pipeline: claims for every department in one statement, each department's own
limit and order; a slot is free as soon as its exchange ends, while the attempt waits for the
recorder, and the attempts waiting are capped."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from app.config import Settings
from app.db import Database, utcnow
from app.delivery import service
from app.delivery import worker as worker_module
from app.delivery.models import Delivery
from tests.delivery.test_delivery import start_env
from tests.receiver import Receiver, wait_until
from tests.support import ExamClock, World, adult, qualify


def test_one_statement_claims_for_every_department_its_oldest_due_within_its_own_limit(
    world: World, client: TestClient, settings: Settings, exam_clock: ExamClock
) -> None:
    people = [(adult(i), ["MEM-LV", "MOHRSS-ELEC-L5", "MOHURD-ELEC"]) for i in range(6)]
    qualify(client, world, people, clock=exam_clock)
    database = Database(settings.database_url)
    vault = client.app.state.vault  # type: ignore[attr-defined]
    table = Delivery.__table__
    now = utcnow()
    with database.write() as db:  # mem's events fell due one minute apart, the last id first
        mem = list(db.scalars(sa.select(table.c.id).where(table.c.department_code == "mem")))
        for i, delivery_id in enumerate(sorted(mem)):
            db.execute(
                sa.update(table)
                .where(table.c.id == delivery_id)
                .values(next_attempt_at=now - timedelta(minutes=10 - i))
            )
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(database.engine, "before_cursor_execute", seen)
    with database.write() as db:
        claimed = service.claim(
            db,
            vault=vault,
            limits={"mem": 4, "mohrss": 1, "mohurd": 0},
            worker="A",
            now=now,
            lease=timedelta(seconds=60),
        )
    sa.event.remove(database.engine, "before_cursor_execute", seen)
    assert len([s for s in statements if "deliveries" in s]) == 1
    assert sorted(c.department for c in claimed) == ["mem"] * 4 + ["mohrss"]
    assert [c.id for c in claimed if c.department == "mem"] == sorted(mem)[:4]  # oldest first
    assert all(c.body.startswith(b'{"type":"issuance.requested"') for c in claimed)
    with database.read() as db:
        locked = set(db.scalars(sa.select(table.c.id).where(table.c.locked_by == "A")))
    assert locked == {c.id for c in claimed}
    database.dispose()


def test_a_slot_is_free_when_its_exchange_ends_and_waiting_attempts_are_capped(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, exam_clock: ExamClock
) -> None:
    """Recording stalls (the database refuses the recorder's writes): the department's two
    slots keep sending while the attempts wait, until the recorder's queue is full; then every
    sending thread waits to hand its attempt over, and nothing more is sent. Once recording
    works again, every request is recorded delivered, each sent once."""
    monkeypatch.setattr(worker_module, "RECORD_BATCH", 4)
    monkeypatch.setattr(worker_module, "MAX_UNRECORDED", 6)
    real_record = service.record
    stalled = threading.Event()
    stalled.set()

    def stalling_record(*args, **kwargs):  # type: ignore[no-untyped-def]
        if stalled.is_set():
            raise OperationalError("record", {}, Exception("database is locked"))
        return real_record(*args, **kwargs)

    monkeypatch.setattr(service, "record", stalling_record)
    with (
        Receiver() as receiver,
        start_env(fresh_database_url, receiver, delivery_concurrency=2) as env,
    ):
        worker = env.client.app.state.worker  # type: ignore[attr-defined]
        try:
            qualify(
                env.client, env.world, [(adult(i), ["MEM-LV"]) for i in range(30)], clock=exam_clock
            )
            # More than the two slots went out although no attempt has been recorded.
            assert wait_until(lambda: len(receiver.calls_to("mem")) > 2, timeout=20)
            # Then both sending threads wait for room in the full queue: nothing can be sent.
            assert wait_until(lambda: worker.pipeline().handing_over == 2, timeout=20)
            state = worker.pipeline()
            assert state.in_flight == 0 and state.queued == 6
            sent = len(receiver.calls_to("mem"))
            assert sent <= 4 + 6 + 2  # the recorder's batch, its queue, one per slot
            assert env.statuses() == ["pending"] * 30
        finally:
            stalled.clear()
        assert wait_until(lambda: env.statuses() == ["delivered"] * 30, timeout=30)
        assert sorted(receiver.ids("mem").values()) == [1] * 30
