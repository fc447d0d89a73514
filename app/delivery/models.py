from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow
from app.delivery.states import DeliveryStatus, EventType, sql_in


class Delivery(Base):
    """One webhook event for one department: the outbox row.

    ``id`` is the event id, sent as ``webhook-id`` on every attempt. ``body_encrypted`` holds
    the exact bytes that are signed and sent (encrypted: they carry the full ID number).
    A worker claims a due row by taking a lease: ``locked_until`` and a new ``lease_version``
    (the fencing token); it records the attempt only if the row still carries that version.
    ``held``: a follow-up event waiting for its subject's first event to settle.
    ``request_id`` is the event's subject (the issuance request it speaks of); the outbox never
    reads the subject, it only reports back what happened to the subject's events.
    Statuses and their transitions: ``app/delivery/states.py``.
    """

    __tablename__ = "deliveries"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    request_id: Mapped[str] = mapped_column(sa.ForeignKey("issuance_requests.id"), index=True)
    department_code: Mapped[str] = mapped_column(sa.ForeignKey("departments.code"))
    event_type: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16), default=DeliveryStatus.PENDING)
    body_encrypted: Mapped[str] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(default=0)
    """Attempts made, numbering the attempt rows."""
    failures: Mapped[int] = mapped_column(default=0)
    """Failed attempts that count against the retry schedule (a 410 does not: it waits)."""
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_version: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(sa.String(500))

    __table_args__ = (
        sa.Index("ix_deliveries_due", "department_code", "status", "next_attempt_at"),
        sa.CheckConstraint(sql_in("status", DeliveryStatus), name="status"),
        sa.CheckConstraint(sql_in("event_type", EventType), name="event_type"),
    )


class DeliveryAttempt(Base):
    """One try at delivering: when, how long, what came back (first 2 KB), or what failed."""

    __tablename__ = "delivery_attempts"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(sa.ForeignKey("deliveries.id"), index=True)
    attempt: Mapped[int]
    lease_version: Mapped[int]
    worker: Mapped[str] = mapped_column(sa.String(80))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[float]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(sa.String(500))
    response_excerpt: Mapped[str | None] = mapped_column(sa.Text)
    outcome: Mapped[str] = mapped_column(sa.String(16))

    __table_args__ = (sa.UniqueConstraint("delivery_id", "attempt"),)
