"""Leases and fencing, at the service level: a worker whose lease was taken over can neither
change the event nor release the new holder's lease; its attempt is kept as ``superseded``."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.db import Database, utcnow
from app.delivery import service
from app.delivery.models import Delivery, DeliveryAttempt
from app.issuance.models import IssuanceRequest
from tests.support import ExamClock, World, adult, qualify

SCHEDULE = (0, 5)


def _attempt(claimed: service.Claimed, worker: str, status: int) -> service.Attempt:
    return service.Attempt(claimed, worker, utcnow(), 12.0, status, None, "ok", None)


def _claim(db: Any, vault: Any, worker: str, now: datetime, *, lease: float) -> list[Any]:
    """Worker ``worker`` claims up to 8 of mem's due events under a lease of ``lease`` s."""
    return service.claim(
        db,
        vault=vault,
        department="mem",
        limit=8,
        worker=worker,
        now=now,
        lease=timedelta(seconds=lease),
    )


def _record(db: Any, outbox: Any, attempt: Any, *, now: datetime) -> Any:
    """Record one attempt; what it did."""
    (recorded,) = service.record(
        db, attempts=[attempt], outbox=outbox, schedule=SCHEDULE, now=now, rng=random.Random()
    )
    return recorded


def test_a_taken_over_lease_fences_out_the_first_worker(
    world: World, client: TestClient, settings, exam_clock: ExamClock
) -> None:  # type: ignore[no-untyped-def]
    qualify(client, world, [(adult(1), ["MEM-LV"])], clock=exam_clock)
    database = Database(settings.database_url)
    vault = client.app.state.vault  # type: ignore[attr-defined]
    outbox = client.app.state.outbox  # type: ignore[attr-defined]
    now = utcnow()
    with database.write() as db:
        (first,) = _claim(db, vault, "A", now, lease=1)
    with database.write() as db:  # A's lease is still running: nothing to take
        assert _claim(db, vault, "B", now, lease=60) == []
    later = now + timedelta(seconds=2)
    with database.write() as db:  # A's lease expired: B takes the event over, same webhook-id
        (second,) = _claim(db, vault, "B", later, lease=60)
    assert second.id == first.id and second.lease_version == first.lease_version + 1
    assert second.body == first.body

    with database.write() as db:  # A's late answer arrives
        service.release(db, claimed=[first])
        stale = _record(db, outbox, _attempt(first, "A", 200), now=later)
    assert stale.outcome == "superseded"
    with database.read() as db:
        event = db.get(Delivery, first.id)
        assert event is not None
        assert (event.status, event.locked_by, event.lease_version) == (
            "pending",
            "B",
            second.lease_version,
        )
        assert db.scalar(sa.select(IssuanceRequest.status)) == "pending"

    with database.write() as db:
        fresh = _record(db, outbox, _attempt(second, "B", 200), now=later)
    assert fresh.outcome == "delivered"
    with database.read() as db:
        event = db.get(Delivery, first.id)
        assert event is not None and (event.status, event.locked_until) == ("delivered", None)
        attempts = db.execute(
            sa.select(
                DeliveryAttempt.attempt, DeliveryAttempt.worker, DeliveryAttempt.outcome
            ).order_by(DeliveryAttempt.attempt)
        ).all()
        assert [tuple(a) for a in attempts] == [(1, "A", "superseded"), (2, "B", "delivered")]
        assert db.scalar(sa.select(IssuanceRequest.status)) == "delivered"
    database.dispose()


def test_release_hands_back_only_the_callers_own_lease(
    world: World, client: TestClient, settings, exam_clock: ExamClock
) -> None:  # type: ignore[no-untyped-def]
    qualify(client, world, [(adult(2), ["MEM-LV"])], clock=exam_clock)
    database = Database(settings.database_url)
    vault = client.app.state.vault  # type: ignore[attr-defined]
    now = utcnow()
    with database.write() as db:
        (claimed,) = _claim(db, vault, "A", now, lease=60)
    with database.write() as db:
        service.release(db, claimed=[claimed])
    with database.write() as db:  # free again at once, not after the lease
        (again,) = _claim(db, vault, "B", now, lease=60)
    assert again.id == claimed.id
    database.dispose()
