"""The outbox: webhook events written in the caller's transaction, never sent from it.

One :class:`Outbox` is built in ``create_app`` (and by ``oneexam worker``) and handed to
endpoints by ``OutboxDep`` (``app/deps.py``). The owner of the events' subjects (issuance)
asks it, by name, to

- ``enqueue`` events (the first attempt comes after the first delay of the retry schedule),
- queue a follow-up ``held`` behind a subject's first event, ``release_held`` or
  ``drop_held`` it once that event settles,
- ``drop`` events that are no longer needed, ``requeue`` settled ones (same ``webhook-id``),

and learns what the outbox settled (delivered, failed, endpoint gone, requeued) through the one
``on_settled`` callback, called in the same transaction that settles the events. The outbox never
reads or writes its subjects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.crypto import Vault
from app.db import bulk_insert, new_id, update_rows
from app.delivery.models import Delivery
from app.delivery.states import DeliveryStatus, EventType, Settlement

BODY_CONTEXT = "webhook-body"


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to enqueue: its subject, the department it goes to, its type and exact body."""

    subject_id: str
    department: str
    event_type: EventType
    body: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Settled:
    """One event's fate, reported to ``on_settled``."""

    subject_id: str
    event_type: EventType
    settlement: Settlement


@dataclass(frozen=True, slots=True)
class EventState:
    """Where a subject's event stands (read under a row lock)."""

    id: str
    status: DeliveryStatus
    in_flight: bool
    """Leased to a worker right now: an attempt may be on the wire."""


SettledHook = Callable[[Session, "Outbox", Sequence[Settled], datetime], None]
"""``on_settled(db, outbox, settled, now)``: called in the transaction that settled them."""


def _ignore(db: Session, outbox: Outbox, settled: Sequence[Settled], now: datetime) -> None:
    return None


class Outbox:
    """Enqueue, hold, release, drop and requeue events; report what settled."""

    def __init__(
        self, vault: Vault, *, first_delay: float = 0.0, on_settled: SettledHook | None = None
    ) -> None:
        self.vault = vault
        self.first_delay = first_delay
        """Seconds before an event's first attempt (``ONEEXAM_RETRY_SCHEDULE[0]``)."""
        self.on_settled: SettledHook = on_settled or _ignore

    # -- writing ------------------------------------------------------------------------------

    def enqueue(
        self, db: Session, events: Iterable[NewEvent], *, now: datetime, held: bool = False
    ) -> list[str]:
        """Insert the events in bulk; ``held`` ones wait for ``release_held``. Returns their ids
        (the ``webhook-id`` of every attempt)."""
        rows = [self._values(e, now, held) for e in events]
        if rows:
            bulk_insert(db, Delivery, rows)
        return [str(r["id"]) for r in rows]

    def _values(self, event: NewEvent, now: datetime, held: bool) -> dict[str, Any]:
        return {
            "id": new_id("msg"),
            "request_id": event.subject_id,
            "department_code": event.department,
            "event_type": event.event_type,
            "status": DeliveryStatus.HELD if held else DeliveryStatus.PENDING,
            "body_encrypted": self.vault.encrypt(event.body, context=BODY_CONTEXT),
            "attempts": 0,
            "failures": 0,
            "next_attempt_at": now + timedelta(seconds=self.first_delay),
            "lease_version": 0,
            "created_at": now,
        }

    def state_of(
        self, db: Session, *, subject_id: str, event_type: EventType, now: datetime
    ) -> EventState | None:
        """The subject's event of this type, locked for the rest of the transaction."""
        row = db.execute(
            sa.select(Delivery.id, Delivery.status, Delivery.locked_until)
            .where(Delivery.request_id == subject_id, Delivery.event_type == event_type)
            .with_for_update()
        ).first()
        if row is None:
            return None
        in_flight = row.locked_until is not None and row.locked_until > now
        return EventState(row.id, DeliveryStatus(row.status), in_flight)

    def drop(
        self,
        db: Session,
        *,
        subject_id: str,
        event_type: EventType,
        now: datetime,
        reason: str | None = None,
        only_if_idle: bool = False,
    ) -> int:
        """Cancel the subject's not yet delivered events of this type (``only_if_idle``: unless
        one is in flight right now). Returns how many were dropped."""
        stmt = sa.update(Delivery).where(
            Delivery.request_id == subject_id,
            Delivery.event_type == event_type,
            Delivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.FAILED)),
        )
        if only_if_idle:
            stmt = stmt.where(sa.or_(Delivery.locked_until.is_(None), Delivery.locked_until < now))
        values: dict[str, Any] = {"status": DeliveryStatus.CANCELLED, "locked_until": None}
        if reason is not None:
            values["last_error"] = reason
        result = cast("sa.CursorResult[Any]", db.execute(stmt.values(**values)))
        return result.rowcount or 0

    def release_held(self, db: Session, subject_ids: Sequence[str], *, now: datetime) -> None:
        """The first events of these subjects were delivered: their held follow-ups go out."""
        self._settle_held(db, subject_ids, DeliveryStatus.PENDING, now)

    def drop_held(self, db: Session, subject_ids: Sequence[str], *, now: datetime) -> None:
        """The first events of these subjects failed for good: their follow-ups are dropped
        (the department never heard of the subject)."""
        self._settle_held(db, subject_ids, DeliveryStatus.CANCELLED, now)

    @staticmethod
    def _settle_held(
        db: Session, subject_ids: Sequence[str], status: DeliveryStatus, now: datetime
    ) -> None:
        if subject_ids:
            update_rows(
                db,
                Delivery,
                where={"request_id": subject_ids, "status": [DeliveryStatus.HELD]},
                values={"status": status, "next_attempt_at": now},
            )

    def requeue(
        self,
        db: Session,
        *,
        now: datetime,
        subject_id: str | None = None,
        department: str | None = None,
        since: datetime | None = None,
        statuses: Sequence[DeliveryStatus] = (DeliveryStatus.FAILED, DeliveryStatus.DELIVERED),
    ) -> int:
        """Queue settled events again under their original ``webhook-id``: one subject's
        (redeliver), or a department's created since a moment (recover). Reports
        ``Settlement.REQUEUED`` for each; returns how many."""
        stmt = sa.select(Delivery.id, Delivery.request_id, Delivery.event_type).where(
            Delivery.status.in_(statuses)
        )
        if subject_id is not None:
            stmt = stmt.where(Delivery.request_id == subject_id)
        if department is not None:
            stmt = stmt.where(Delivery.department_code == department)
        if since is not None:
            stmt = stmt.where(Delivery.created_at >= since)
        rows = db.execute(stmt).all()
        if not rows:
            return 0
        db.execute(
            sa.update(Delivery)
            .where(Delivery.id.in_([r.id for r in rows]))
            .values(
                status=DeliveryStatus.PENDING,
                failures=0,
                next_attempt_at=now,
                locked_until=None,
                locked_by=None,
            )
        )
        requeued = [
            Settled(r.request_id, EventType(r.event_type), Settlement.REQUEUED) for r in rows
        ]
        self.report(db, requeued, now=now)
        return len(rows)

    def report(self, db: Session, settled: Sequence[Settled], *, now: datetime) -> None:
        """Tell the subjects' owner what settled (the delivery service calls this after a batch
        of attempts; ``requeue`` after queueing events again)."""
        if settled:
            self.on_settled(db, self, settled, now)

    # -- reading ------------------------------------------------------------------------------

    def bodies(
        self, db: Session, subject_ids: Sequence[str], *, event_type: EventType
    ) -> dict[str, bytes]:
        """The exact body of each subject's event of this type (decrypted)."""
        if not subject_ids:
            return {}
        rows = db.execute(
            sa.select(Delivery.request_id, Delivery.body_encrypted).where(
                Delivery.request_id.in_(subject_ids), Delivery.event_type == event_type
            )
        )
        return {r.request_id: self.body(r.body_encrypted) for r in rows}

    def body(self, body_encrypted: str) -> bytes:
        return decrypt_body(self.vault, body_encrypted)


def decrypt_body(vault: Vault, body_encrypted: str) -> bytes:
    return vault.decrypt(body_encrypted, context=BODY_CONTEXT)


def decrypt_bodies(vault: Vault, bodies_encrypted: Sequence[str]) -> list[bytes]:
    """Many bodies at once (a claimed batch), in order."""
    return [vault.decrypt(b, context=BODY_CONTEXT) for b in bodies_encrypted]
