"""Leases and fencing, at the service level: a worker whose lease was taken over can neither
change the event nor release the new holder's lease; its attempt is kept as ``superseded``."""

from __future__ import annotations

import random
from datetime import timedelta

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


def test_a_taken_over_lease_fences_out_the_first_worker(
    world: World, client: TestClient, settings, exam_clock: ExamClock
) -> None:  # type: ignore[no-untyped-def]
    qualify(client, world, [(adult(1), ["MEM-LV"])], clock=exam_clock)
    database = Database(settings.database_url)
    vault = client.app.state.vault  # type: ignore[attr-defined]
    outbox = client.app.state.outbox  # type: ignore[attr-defined]
    now = utcnow()
    with database.write() as db:
        (first,) = service.claim(
            db,
            vault=vault,
            department="mem",
            limit=8,
            worker="A",
            now=now,
            lease=timedelta(seconds=1),
        )
    with database.write() as db:  # A's lease is still running: nothing to take
        assert (
            service.claim(
                db,
                vault=vault,
                department="mem",
                limit=8,
                worker="B",
                now=now,
                lease=timedelta(seconds=60),
            )
            == []
        )
    later = now + timedelta(seconds=2)
    with database.write() as db:  # A's lease expired: B takes the event over, same webhook-id
        (second,) = service.claim(
            db,
            vault=vault,
            department="mem",
            limit=8,
            worker="B",
            now=later,
            lease=timedelta(seconds=60),
        )
    assert second.id == first.id and second.lease_version == first.lease_version + 1
    assert second.body == first.body

    with database.write() as db:  # A's late answer arrives
        service.release(db, claimed=[first])
        (stale,) = service.record(
            db,
            attempts=[_attempt(first, "A", 200)],
            outbox=outbox,
            schedule=SCHEDULE,
            now=later,
            rng=random.Random(),
        )
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
        (fresh,) = service.record(
            db,
            attempts=[_attempt(second, "B", 200)],
            outbox=outbox,
            schedule=SCHEDULE,
            now=later,
            rng=random.Random(),
        )
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
        (claimed,) = service.claim(
            db,
            vault=vault,
            department="mem",
            limit=8,
            worker="A",
            now=now,
            lease=timedelta(seconds=60),
        )
    with database.write() as db:
        service.release(db, claimed=[claimed])
    with database.write() as db:  # free again at once, not after the lease
        (again,) = service.claim(
            db,
            vault=vault,
            department="mem",
            limit=8,
            worker="B",
            now=now,
            lease=timedelta(seconds=60),
        )
    assert again.id == claimed.id
    database.dispose()
