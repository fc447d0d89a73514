"""The outbox from the worker's side: claim due events under a lease, record attempts fenced by
the lease version, requeue for redelivery.

Claiming is per department, so one department's backlog or dead endpoint never sits in a
claim that another department's events wait behind. On PostgreSQL the claim skips rows other
workers hold (``FOR UPDATE SKIP LOCKED``); on SQLite the writing transaction is exclusive.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.crypto import Vault
from app.db import bulk_insert, new_id
from app.delivery import outbox, policy
from app.delivery.models import Delivery, DeliveryAttempt
from app.departments import service as departments_service
from app.departments.models import Department
from app.issuance.models import IssuanceRequest
from app.issuance.payload import CANCELLED, REQUESTED

EXCERPT_BYTES = 2048


@dataclass(frozen=True, slots=True)
class Endpoint:
    department: str
    url: str
    secrets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Claimed:
    """An event leased to this worker: send it, then hand back an :class:`Attempt`."""

    id: str
    department: str
    event_type: str
    request_id: str
    lease_version: int
    locked_until: datetime
    body: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one try produced."""

    claimed: Claimed
    worker: str
    started_at: datetime
    duration_ms: float
    status_code: int | None
    error: str | None
    response_excerpt: str | None
    retry_after: str | None
    released: bool = False
    """Not sent at all (the lease was too close to expiry); the lease is handed back."""


def endpoints(db: Session, vault: Vault, now: datetime) -> list[Endpoint]:
    """Departments that take deliveries now: an endpoint URL, switched on, with its secrets."""
    departments = db.scalars(
        sa.select(Department).where(
            Department.webhook_url.is_not(None), Department.active.is_(True)
        )
    ).all()
    return [
        Endpoint(
            d.code, d.webhook_url or "", tuple(departments_service.active_secrets(d, vault, now))
        )
        for d in departments
    ]


def claim(
    db: Session,
    vault: Vault,
    *,
    department: str,
    limit: int,
    worker: str,
    now: datetime,
    lease: timedelta,
) -> list[Claimed]:
    """Lease up to ``limit`` due events of one department, oldest due first."""
    due = (
        sa.select(Delivery.id)
        .where(
            Delivery.department_code == department,
            Delivery.status == "pending",
            Delivery.next_attempt_at <= now,
            sa.or_(Delivery.locked_until.is_(None), Delivery.locked_until < now),
        )
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    until = now + lease
    rows = db.execute(
        sa.update(Delivery)
        .where(Delivery.id.in_(due.scalar_subquery()))
        .values(locked_until=until, locked_by=worker, lease_version=Delivery.lease_version + 1)
        .returning(
            Delivery.id,
            Delivery.event_type,
            Delivery.request_id,
            Delivery.lease_version,
            Delivery.body_encrypted,
        )
    ).all()
    return [
        Claimed(
            r.id,
            department,
            r.event_type,
            r.request_id,
            r.lease_version,
            until,
            vault.decrypt(r.body_encrypted, context=outbox.BODY_CONTEXT),
        )
        for r in rows
    ]


def release(db: Session, claimed: Sequence[Claimed]) -> None:
    """Give back leases without an attempt (shutting down before sending)."""
    for c in claimed:
        db.execute(
            sa.update(Delivery)
            .where(Delivery.id == c.id, Delivery.lease_version == c.lease_version)
            .values(locked_until=None, locked_by=None)
        )


@dataclass
class Recorded:
    outcome: str
    department: str
    duration_ms: float


def record(
    db: Session,
    attempts: Sequence[Attempt],
    *,
    schedule: Sequence[float],
    now: datetime,
    rng: random.Random,
) -> list[Recorded]:
    """Store a batch of attempts and apply their outcomes, in a fixed number of statements.

    An outcome applies only if the event still carries the attempt's lease version. A stale
    attempt (the lease expired and another worker took the event over) is stored as
    ``superseded`` and changes nothing else.
    """
    if not attempts:
        return []
    ids = list({a.claimed.id for a in attempts})
    current = {
        r.id: r
        for r in db.execute(
            sa.select(
                Delivery.id,
                Delivery.attempts,
                Delivery.lease_version,
                Delivery.status,
                Delivery.failures,
            )
            .where(Delivery.id.in_(ids))
            .with_for_update()
        )
    }
    numbers = {i: current[i].attempts for i in ids}
    updates: list[dict[str, object]] = []
    gone: set[str] = set()
    settled: dict[str, bool] = {}
    attempt_rows, recorded = [], []
    for a in attempts:
        c = a.claimed
        row = current[c.id]
        numbers[c.id] += 1
        if row.lease_version != c.lease_version or row.status != "pending":
            outcome = "superseded"
        else:
            step = policy.next_step(
                status_code=a.status_code,
                failures=row.failures,
                schedule=schedule,
                now=now,
                retry_after=policy.parse_retry_after(a.retry_after, now),
                rng=rng,
            )
            outcome = step.kind
            updates.append(_event_values(c.id, a, step, row.status, now))
            if step.kind == "endpoint_gone":
                gone.add(c.department)
            if c.event_type == REQUESTED and step.kind in ("delivered", "failed"):
                settled[c.request_id] = step.kind == "delivered"
        attempt_rows.append(
            {
                "id": new_id("att"),
                "delivery_id": c.id,
                "attempt": numbers[c.id],
                "lease_version": c.lease_version,
                "worker": a.worker,
                "started_at": a.started_at,
                "duration_ms": round(a.duration_ms, 2),
                "status_code": a.status_code,
                "error": a.error,
                "response_excerpt": a.response_excerpt,
                "outcome": outcome,
            }
        )
        recorded.append(Recorded(outcome, c.department, a.duration_ms))

    if updates:
        table = Delivery.__table__
        assert isinstance(table, sa.Table)
        db.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("b_id"))
            .values(
                status=sa.bindparam("b_status"),
                failures=sa.bindparam("b_failures"),
                next_attempt_at=sa.bindparam("b_next", type_=table.c.next_attempt_at.type),
                delivered_at=sa.bindparam("b_delivered", type_=table.c.delivered_at.type),
                last_status_code=sa.bindparam("b_code"),
                last_error=sa.bindparam("b_error"),
                locked_until=None,
                locked_by=None,
            ),
            updates,
        )
    db.execute(
        sa.update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(attempts=sa.case(numbers, value=Delivery.id))
    )
    bulk_insert(db, DeliveryAttempt, attempt_rows)
    for code in gone:
        departments_service.mark_endpoint_gone(
            db=db, code=code, reason=f"the endpoint answered 410 Gone at {now.isoformat()}"
        )
    _requested_events_settled(db, settled, now)
    return recorded


def _event_values(
    delivery_id: str, a: Attempt, step: policy.Step, status: str, now: datetime
) -> dict[str, object]:
    return {
        "b_id": delivery_id,
        "b_status": {"delivered": "delivered", "failed": "failed"}.get(step.kind, status),
        "b_failures": step.failures,
        "b_next": step.next_attempt_at or now,
        "b_delivered": now if step.kind == "delivered" else None,
        "b_code": a.status_code,
        "b_error": a.error,
    }


def _requested_events_settled(db: Session, settled: dict[str, bool], now: datetime) -> None:
    """Requests follow their ``issuance.requested`` event; a cancellation held behind it is
    released if the department was told, and dropped if it never was."""
    for delivered in (True, False):
        request_ids = [r for r, ok in settled.items() if ok is delivered]
        if not request_ids:
            continue
        db.execute(
            sa.update(IssuanceRequest)
            .where(
                IssuanceRequest.id.in_(request_ids),
                IssuanceRequest.status.in_(("pending", "failed", "delivered")),
            )
            .values(status="delivered" if delivered else "failed", updated_at=now)
        )
        db.execute(
            sa.update(Delivery)
            .where(
                Delivery.request_id.in_(request_ids),
                Delivery.event_type == CANCELLED,
                Delivery.status == "held",
            )
            .values(status="pending" if delivered else "cancelled", next_attempt_at=now)
        )


def requeue(db: Session, deliveries: Sequence[Delivery], now: datetime) -> int:
    """Queue failed (or delivered) events again, with their original ``webhook-id``."""
    ids = [d.id for d in deliveries]
    if not ids:
        return 0
    db.execute(
        sa.update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(
            status="pending", failures=0, next_attempt_at=now, locked_until=None, locked_by=None
        )
    )
    request_ids = {d.request_id for d in deliveries if d.event_type == REQUESTED}
    if request_ids:
        db.execute(
            sa.update(IssuanceRequest)
            .where(
                IssuanceRequest.id.in_(request_ids),
                IssuanceRequest.status.in_(("failed", "delivered")),
            )
            .values(status="pending", updated_at=now)
        )
    return len(ids)


def queue_depths(db: Session, now: datetime) -> list[tuple[str, int, float]]:
    """(department, events waiting, age in seconds of the oldest) for the metrics."""
    rows = db.execute(
        sa.select(Delivery.department_code, sa.func.count(), sa.func.min(Delivery.created_at))
        .where(Delivery.status == "pending")
        .group_by(Delivery.department_code)
    ).all()
    return [
        (department, int(count), max((now - oldest).total_seconds(), 0.0))
        for department, count, oldest in rows
    ]
