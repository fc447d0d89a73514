from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow
from app.delivery.states import sql_in
from app.issuance.states import RequestStatus
from app.sealed import SealedText


class IssuanceRequest(Base):
    """One qualified (registration, certificate): the department is asked to issue.

    Written in the finalisation transaction together with its ``issuance.requested`` delivery
    (the outbox row). A later re-evaluation may cancel it or, after a cancellation, add a new
    revision for the same certificate. Statuses and who moves them: ``app/issuance/states.py``.
    """

    __tablename__ = "issuance_requests"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    session_id: Mapped[str] = mapped_column(sa.ForeignKey("exam_sessions.id"), index=True)
    registration_id: Mapped[str] = mapped_column(sa.ForeignKey("registrations.id"))
    candidate_id: Mapped[str] = mapped_column(sa.ForeignKey("candidates.id"), index=True)
    certificate: Mapped[str] = mapped_column(sa.String(32))
    department_code: Mapped[str] = mapped_column(sa.ForeignKey("departments.code"))
    revision: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(sa.String(16), default=RequestStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(500))
    decision: Mapped[str | None] = mapped_column(sa.String(16))
    certificate_number: Mapped[str | None] = mapped_column(
        SealedText("issuance_requests.certificate_number")
    )
    issued_on: Mapped[date | None] = mapped_column(sa.Date)
    valid_until: Mapped[date | None] = mapped_column(sa.Date)
    rejection_reason: Mapped[str | None] = mapped_column(sa.String(2000))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(sa.String(80))

    __table_args__ = (
        sa.UniqueConstraint("registration_id", "certificate", "revision"),
        sa.Index("ix_issuance_requests_department_code_status", "department_code", "status"),
        sa.CheckConstraint(sql_in("status", RequestStatus), name="status"),
    )
