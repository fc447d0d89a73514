from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow
from app.sealed import SealedText


class Candidate(Base):
    """A person, known by national ID number: encrypted at rest, found through a blind index."""

    __tablename__ = "candidates"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    id_number_index: Mapped[str] = mapped_column(sa.String(64), unique=True)
    id_number_encrypted: Mapped[str] = mapped_column(sa.Text)
    id_number_masked: Mapped[str] = mapped_column(sa.String(18))
    birth_date: Mapped[date] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CandidateCertificate(Base):
    """A certificate issued through oneexam (a department's ``issued`` decision): part of the
    person's verified cross-department record, counted as held in later registrations."""

    __tablename__ = "candidate_certificates"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    candidate_id: Mapped[str] = mapped_column(sa.ForeignKey("candidates.id"), index=True)
    certificate: Mapped[str] = mapped_column(sa.String(32))
    department_code: Mapped[str] = mapped_column(sa.ForeignKey("departments.code"))
    number: Mapped[str] = mapped_column(SealedText("candidate_certificates.number"))
    issued_on: Mapped[date] = mapped_column(sa.Date)
    valid_until: Mapped[date | None] = mapped_column(sa.Date)
    issuance_request_id: Mapped[str] = mapped_column(
        sa.ForeignKey("issuance_requests.id"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When it stopped counting: revoked by its department (or an admin), or the request it
    was issued on was cancelled by a later re-evaluation."""
    revoked_on: Mapped[date | None] = mapped_column(sa.Date)
    """The local date of the revocation (``ONEEXAM_TIMEZONE``), as the record shows it."""
    revocation_reason: Mapped[str | None] = mapped_column(sa.Text)
    revoked_by: Mapped[str | None] = mapped_column(sa.String(80))
    """The acting key or person (``Principal.actor``); ``re-evaluation`` for a cancellation."""
