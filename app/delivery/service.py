"""The outbox from the worker's side: claim due events under a lease, record attempts fenced by
the lease version, requeue for redelivery.

Claiming is per department, so one department's backlog or dead endpoint never sits in a
claim that another department's events wait behind. On PostgreSQL the claim skips rows other
workers hold (``FOR UPDATE SKIP LOCKED``); on SQLite the writing transaction is exclusive.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.crypto import Vault
from app.db import new_id
from app.delivery import policy
from app.delivery.models import Delivery, DeliveryAttempt
from app.delivery.outbox import Outbox, Settled, decrypt_bodies
from app.delivery.states import AttemptOutcome, DeliveryStatus, EventType, Settlement
from app.departments import service as departments_service
from app.departments.models import Department
from app.rules.certnumber import mask_id_numbers_in

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


def endpoints(db: Session, *, vault: Vault, now: datetime) -> list[Endpoint]:
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
    *,
    vault: Vault,
    department: str | None = None,
    limit: int = 0,
    limits: Mapping[str, int] | None = None,
    worker: str,
    now: datetime,
    lease: timedelta,
) -> list[Claimed]:
    """Lease due events, oldest due first: up to ``limit`` of one ``department``, or up to
    ``limits[code]`` of each department in ``limits`` — in one statement however many
    departments ask. Each department is picked on its own (one department's backlog never
    crowds out another's), skipping rows other workers hold. Bodies are decrypted together
    once the rows are leased."""
    wants = [
        (code, n)
        for code, n in (limits if limits is not None else {department or "": limit}).items()
        if n > 0
    ]
    if not wants:
        return []
    until = now + lease
    params: dict[str, object] = {"now": now, "until": until, "worker": worker}
    for i, (code, n) in enumerate(wants):
        params[f"department_{i}"], params[f"limit_{i}"] = code, n
    rows = sorted(db.execute(_claim_statement(len(wants)), params), key=lambda r: r.next_attempt_at)
    bodies = decrypt_bodies(vault, [r.body_encrypted for r in rows])
    return [
        Claimed(r.id, r.department_code, r.event_type, r.request_id, r.lease_version, until, body)
        for r, body in zip(rows, bodies, strict=True)
    ]


def _deliveries() -> sa.Table:
    """The outbox table itself: the worker's statements are Core, with no ORM bookkeeping."""
    table = Delivery.__table__
    assert isinstance(table, sa.Table)
    return table


@functools.cache
def _claim_statement(departments: int) -> sa.Update:
    """The claim for this many departments, built once (bound: ``now``, ``until``,
    ``worker``, ``department_i``, ``limit_i``): one CTE per department, each its oldest due
    events up to its limit, all leased by one UPDATE … RETURNING."""
    table = _deliveries()
    now = sa.bindparam("now", type_=table.c.next_attempt_at.type)
    picks = [
        sa.select(table.c.id)
        .where(
            table.c.department_code == sa.bindparam(f"department_{i}"),
            table.c.status == DeliveryStatus.PENDING,
            table.c.next_attempt_at <= now,
            sa.or_(table.c.locked_until.is_(None), table.c.locked_until < now),
        )
        .order_by(table.c.next_attempt_at)
        .limit(sa.bindparam(f"limit_{i}", type_=sa.Integer))
        .with_for_update(skip_locked=True)
        .cte(f"due_{i}")
        for i in range(departments)
    ]
    ids = sa.union_all(*(sa.select(p.c.id) for p in picks)) if len(picks) > 1 else picks[0].select()
    return (
        sa.update(table)
        .where(table.c.id.in_(ids))
        .values(
            locked_until=sa.bindparam("until", type_=table.c.locked_until.type),
            locked_by=sa.bindparam("worker"),
            lease_version=table.c.lease_version + 1,
        )
        .returning(
            table.c.id,
            table.c.department_code,
            table.c.event_type,
            table.c.request_id,
            table.c.lease_version,
            table.c.next_attempt_at,
            table.c.body_encrypted,
        )
    )


def release(db: Session, *, claimed: Sequence[Claimed]) -> None:
    """Give back leases without an attempt (not sent: shutting down, the endpoint switched
    off, or too little of the lease left), in one statement; a lease another worker has
    taken since is left alone."""
    if claimed:
        db.execute(
            _release_statement(),
            [{"r_id": c.id, "r_version": c.lease_version} for c in claimed],
        )


@functools.cache
def _release_statement() -> sa.Update:
    table = _deliveries()
    return (
        sa.update(table)
        .where(
            table.c.id == sa.bindparam("r_id"),
            table.c.lease_version == sa.bindparam("r_version"),
        )
        .values(locked_until=None, locked_by=None)
    )


@dataclass
class Recorded:
    outcome: AttemptOutcome
    department: str
    duration_ms: float
    claimed: Claimed | None = None
    attempt: int = 0
    next_attempt_at: datetime | None = None
    status_code: int | None = None
    error: str | None = None


@dataclass
class _Batch:
    """What a batch of attempts writes, collected before any statement is sent."""

    numbers: dict[str, int]
    updates: list[dict[str, object]] = field(default_factory=list)
    attempt_rows: list[dict[str, object]] = field(default_factory=list)
    recorded: list[Recorded] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    settled: list[Settled] = field(default_factory=list)


def record(
    db: Session,
    *,
    attempts: Sequence[Attempt],
    outbox: Outbox,
    schedule: Sequence[float],
    now: datetime,
    rng: random.Random,
) -> list[Recorded]:
    """Store a batch of attempts and apply their outcomes, in a fixed number of statements;
    report what settled to ``outbox.on_settled`` in the same transaction.

    An outcome applies only if the event still carries the attempt's lease version. A stale
    attempt (the lease expired and another worker took the event over) is stored as
    ``superseded`` and changes nothing else.
    """
    if not attempts:
        return []
    ids = list({a.claimed.id for a in attempts})
    current = _locked_events(db, ids)
    batch = _Batch(numbers={i: current[i].attempts for i in ids})
    for a in attempts:
        _apply(batch, a, current[a.claimed.id], schedule=schedule, now=now, rng=rng)
    _write(db, batch, ids)
    for code in batch.gone:
        departments_service.mark_endpoint_gone(
            db=db, code=code, reason=f"the endpoint answered 410 Gone at {now.isoformat()}"
        )
    outbox.report(db, batch.settled, now=now)
    return batch.recorded


def _locked_events(db: Session, ids: Sequence[str]) -> dict[str, Any]:
    return {r.id: r for r in db.execute(_locked_statement(), {"ids": list(ids)})}


@functools.cache
def _locked_statement() -> sa.Select[Any]:
    table = _deliveries()
    return (
        sa.select(
            table.c.id,
            table.c.attempts,
            table.c.lease_version,
            table.c.status,
            table.c.failures,
        )
        .where(table.c.id.in_(sa.bindparam("ids", expanding=True)))
        .with_for_update()
    )


_SETTLES = {
    AttemptOutcome.DELIVERED: Settlement.DELIVERED,
    AttemptOutcome.FAILED: Settlement.FAILED,
    AttemptOutcome.ENDPOINT_GONE: Settlement.ENDPOINT_GONE,
}


def _apply(
    batch: _Batch,
    a: Attempt,
    row: Any,
    *,
    schedule: Sequence[float],
    now: datetime,
    rng: random.Random,
) -> None:
    c = a.claimed
    batch.numbers[c.id] += 1
    next_at: datetime | None = None
    if row.lease_version != c.lease_version or row.status != DeliveryStatus.PENDING:
        outcome = AttemptOutcome.SUPERSEDED
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
        next_at = step.next_attempt_at
        batch.updates.append(_event_values(c.id, a, step, row.status, now))
        if outcome == AttemptOutcome.ENDPOINT_GONE:
            batch.gone.add(c.department)
        if outcome in _SETTLES:
            batch.settled.append(Settled(c.request_id, EventType(c.event_type), _SETTLES[outcome]))
    number = batch.numbers[c.id]
    batch.attempt_rows.append(
        {
            "id": new_id("att"),
            "delivery_id": c.id,
            "attempt": number,
            "lease_version": c.lease_version,
            "worker": a.worker,
            "started_at": a.started_at,
            "duration_ms": round(a.duration_ms, 2),
            "status_code": a.status_code,
            "error": a.error,
            "response_excerpt": stored_excerpt(a.status_code, a.response_excerpt),
            "outcome": outcome,
        }
    )
    batch.recorded.append(
        Recorded(outcome, c.department, a.duration_ms, c, number, next_at, a.status_code, a.error)
    )


def stored_excerpt(status_code: int | None, excerpt: str | None) -> str | None:
    """What is kept of an answer's body: nothing when it was a success (a department that echoes
    the payload would leave the candidate's data at rest), and for a failure the excerpt with
    every ID number in it masked and the digits it ends on dropped."""
    if excerpt is None or policy.classify(status_code) == "success":
        return None
    return _CUT_OFF_DIGITS.sub("…", mask_id_numbers_in(excerpt))


_CUT_OFF_DIGITS = re.compile(r"[0-9]{6,17}$")
"""Digits at the very end of an excerpt: perhaps an ID number cut by its end, too short to be
recognised and masked, so they are not kept."""


def _write(db: Session, batch: _Batch, ids: Sequence[str]) -> None:
    """The events' new state and attempt counts in one executemany (a second one only for
    events whose attempts were all superseded), then the attempt rows in one insert."""
    updated = set()
    for u in batch.updates:
        u["b_attempts"] = batch.numbers[str(u["b_id"])]
        updated.add(u["b_id"])
    if batch.updates:
        db.execute(_event_statement(), batch.updates)
    superseded = [{"s_id": i, "s_attempts": batch.numbers[i]} for i in ids if i not in updated]
    if superseded:
        db.execute(_attempts_statement(), superseded)
    if batch.attempt_rows:
        db.execute(_attempt_rows_statement(), batch.attempt_rows)


@functools.cache
def _event_statement() -> sa.Update:
    table = _deliveries()
    return (
        sa.update(table)
        .where(table.c.id == sa.bindparam("b_id"))
        .values(
            status=sa.bindparam("b_status"),
            failures=sa.bindparam("b_failures"),
            attempts=sa.bindparam("b_attempts"),
            next_attempt_at=sa.bindparam("b_next", type_=table.c.next_attempt_at.type),
            delivered_at=sa.bindparam("b_delivered", type_=table.c.delivered_at.type),
            last_status_code=sa.bindparam("b_code"),
            last_error=sa.bindparam("b_error"),
            locked_until=None,
            locked_by=None,
        )
    )


@functools.cache
def _attempts_statement() -> sa.Update:
    table = _deliveries()
    return (
        sa.update(table)
        .where(table.c.id == sa.bindparam("s_id"))
        .values(attempts=sa.bindparam("s_attempts"))
    )


@functools.cache
def _attempt_rows_statement() -> sa.Insert:
    table = DeliveryAttempt.__table__
    assert isinstance(table, sa.Table)
    return sa.insert(table)


_FINAL = {
    AttemptOutcome.DELIVERED: DeliveryStatus.DELIVERED,
    AttemptOutcome.FAILED: DeliveryStatus.FAILED,
}


def _event_values(
    delivery_id: str, a: Attempt, step: policy.Step, status: str, now: datetime
) -> dict[str, object]:
    return {
        "b_id": delivery_id,
        "b_status": _FINAL.get(step.kind, status),
        "b_failures": step.failures,
        "b_next": step.next_attempt_at or now,
        "b_delivered": now if step.kind == AttemptOutcome.DELIVERED else None,
        "b_code": a.status_code,
        "b_error": a.error,
    }


def recover(
    db: Session, *, outbox: Outbox, department: str, since: datetime, now: datetime, actor: str
) -> int:
    """Queue again every failed event of a department created since a moment (for example
    after its endpoint was down for longer than the retry schedule), under their original
    ``webhook-id``s. Audited under ``actor``."""
    count = outbox.requeue(
        db, now=now, department=department, since=since, statuses=(DeliveryStatus.FAILED,)
    )
    db.flush()
    audit.append(
        db,
        actor=actor,
        action="deliveries.recovered",
        subject=department,
        after={"since": since, "requeued": count},
    )
    return count


def attempts_for(db: Session, *, subject_id: str) -> list[tuple[Delivery, DeliveryAttempt]]:
    """Every attempt at every event of one subject, oldest first."""
    stmt = (
        sa.select(Delivery, DeliveryAttempt)
        .join(DeliveryAttempt, DeliveryAttempt.delivery_id == Delivery.id)
        .where(Delivery.request_id == subject_id)
        .order_by(DeliveryAttempt.started_at, DeliveryAttempt.attempt)
    )
    return [(d, a) for d, a in db.execute(stmt)]
