from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.candidates.models import Candidate
from app.clock import DEFAULT_TIMEZONE
from app.db import Base, UTCDateTime, utcnow
from app.delivery.states import sql_in
from app.sealed import SealedNumbers
from app.sessions.states import RegistrationStatus, SessionStatus


class ExamSession(Base):
    """One combined sitting at a centre, under the catalogue version in force when scheduled."""

    __tablename__ = "exam_sessions"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    centre_code: Mapped[str] = mapped_column(sa.ForeignKey("centres.code"), index=True)
    status: Mapped[str] = mapped_column(sa.String(24), default=SessionStatus.SCHEDULED)
    catalogue_version: Mapped[int] = mapped_column(sa.ForeignKey("catalogue_versions.version"))
    certificates: Mapped[list[str]] = mapped_column(sa.JSON)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    exam_date: Mapped[date] = mapped_column(sa.Date)
    """The local date of ``starts_at`` in ``timezone``: the day every rule applies on."""
    timezone: Mapped[str] = mapped_column(sa.String(64), server_default=DEFAULT_TIMEZONE)
    """The centre's IANA zone when the session was scheduled, pinned like the catalogue."""
    capacity: Mapped[int]
    seats_taken: Mapped[int] = mapped_column(default=0)
    venue: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(sa.String(80))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finalised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.CheckConstraint(sql_in("status", SessionStatus), name="status"),
        sa.CheckConstraint("capacity >= 1", name="capacity"),
        sa.CheckConstraint("seats_taken >= 0 and seats_taken <= capacity", name="seats"),
        sa.CheckConstraint("ends_at > starts_at", name="times"),
    )


NOT_WITHDRAWN = sa.text(f"status <> '{RegistrationStatus.WITHDRAWN.value}'")
"""The registrations that count as the person's one registration in their session."""


class Registration(Base):
    """A candidate in a session: targets, what they declared holding, and the plan worked out
    for them on registration (sections to sit, exemptions and their basis).

    A person has at most one registration in a session that is not withdrawn (a partial unique
    index); withdrawn ones stay on record beside it, so a person withdrawn before the start may
    be registered in the same session again."""

    __tablename__ = "registrations"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    session_id: Mapped[str] = mapped_column(sa.ForeignKey("exam_sessions.id"), index=True)
    candidate_id: Mapped[str] = mapped_column(sa.ForeignKey("candidates.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    targets: Mapped[list[str]] = mapped_column(sa.JSON)
    held: Mapped[list[dict[str, Any]]] = mapped_column(SealedNumbers("registrations.held"))
    plan: Mapped[dict[str, Any]] = mapped_column(SealedNumbers("registrations.plan"))
    required_sections: Mapped[list[str]] = mapped_column(sa.JSON)
    """The plan's sections to sit, kept apart so result batches need not read whole plans."""
    status: Mapped[str] = mapped_column(sa.String(16), default=RegistrationStatus.REGISTERED)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(sa.String(80))
    absent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawal_reason: Mapped[str | None] = mapped_column(sa.Text)
    replans: Mapped[list[dict[str, Any]]] = mapped_column(
        sa.JSON, default=list, server_default="[]"
    )
    """``{at, reason}`` each time the service itself re-planned the registration (a certificate
    its plan rested on was revoked)."""

    candidate: Mapped[Candidate] = relationship(lazy="joined")

    __table_args__ = (
        sa.Index(
            "uq_registrations_session_id_candidate_id_not_withdrawn",
            "session_id",
            "candidate_id",
            unique=True,
            sqlite_where=NOT_WITHDRAWN,
            postgresql_where=NOT_WITHDRAWN,
        ),
        sa.CheckConstraint(sql_in("status", RegistrationStatus), name="status"),
    )


class RegistrationClaim(Base):
    """One open registration of a person for a certificate, across every session (docs/api.md
    §6, ``registered-elsewhere``): the primary key lets a person hold at most one.

    A registration claims each of its targets in the transaction that writes it (a change claims
    the targets it adds and frees those it drops). A claim ends when its registration is
    withdrawn or wholly absent (or absent from a section its target needs), when its session is
    cancelled, or when the session releases (finalises) that certificate. The person is their
    candidate row, one per blind index of the ID number.
    """

    __tablename__ = "registration_claims"

    candidate_id: Mapped[str] = mapped_column(sa.ForeignKey("candidates.id"), primary_key=True)
    certificate: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    registration_id: Mapped[str] = mapped_column(sa.ForeignKey("registrations.id"), index=True)
    session_id: Mapped[str] = mapped_column(sa.ForeignKey("exam_sessions.id"), index=True)
