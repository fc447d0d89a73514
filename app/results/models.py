from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow
from app.results.states import STORED
from app.sealed import SealedNumbers

ScoreColumn = sa.Numeric(5, 1, asdecimal=True)


class Result(Base):
    """A candidate's result in one section, recorded once.

    ``score``/``passed`` hold the current value; ``original_*`` what was first recorded.
    Every change after that is a :class:`ResultAmendment`, kept beside the original.
    """

    __tablename__ = "results"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    session_id: Mapped[str] = mapped_column(sa.ForeignKey("exam_sessions.id"), index=True)
    registration_id: Mapped[str] = mapped_column(sa.ForeignKey("registrations.id"))
    section: Mapped[str] = mapped_column(sa.String(32))
    score: Mapped[Decimal | None] = mapped_column(ScoreColumn)
    passed: Mapped[bool | None]
    original_score: Mapped[Decimal | None] = mapped_column(ScoreColumn)
    original_passed: Mapped[bool | None]
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[str] = mapped_column(sa.String(80))
    amendments_count: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        sa.UniqueConstraint("registration_id", "section"),
        sa.CheckConstraint("(score is null) != (passed is null)", name="one_value"),
    )


class ResultAmendment(Base):
    """A correction to a recorded result: the new value, the one it replaced, who, when, why."""

    __tablename__ = "result_amendments"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    result_id: Mapped[str] = mapped_column(sa.ForeignKey("results.id"), index=True)
    score: Mapped[Decimal | None] = mapped_column(ScoreColumn)
    passed: Mapped[bool | None]
    previous_score: Mapped[Decimal | None] = mapped_column(ScoreColumn)
    previous_passed: Mapped[bool | None]
    reason: Mapped[str] = mapped_column(sa.Text)
    amended_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    amended_by: Mapped[str] = mapped_column(sa.String(80))


class Outcome(Base):
    """How one registration fared against one target certificate's own pass marks.

    Statuses and who moves them: ``app/results/states.py``.
    """

    __tablename__ = "outcomes"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    session_id: Mapped[str] = mapped_column(sa.ForeignKey("exam_sessions.id"), index=True)
    registration_id: Mapped[str] = mapped_column(sa.ForeignKey("registrations.id"))
    certificate: Mapped[str] = mapped_column(sa.String(32))
    department_code: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16))
    failed_sections: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    exemptions: Mapped[list[dict[str, Any]]] = mapped_column(SealedNumbers("outcomes.exemptions"))
    reasons: Mapped[list[str] | None] = mapped_column(sa.JSON)
    """Why the target is ``not_eligible``, found when its plan was worked out again."""
    carried: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON)
    """Sections judged on an earlier sitting's result (resits), with their basis."""
    issuance_request_id: Mapped[str | None] = mapped_column(sa.String(40))
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("registration_id", "certificate"),
        sa.CheckConstraint(
            "status in ({})".format(", ".join(f"'{s}'" for s in STORED)), name="status"
        ),
    )


class CertificateRelease(Base):
    """One certificate of a session finalised (released): its outcomes and issuance requests are
    written. A session is ``finalised`` once every certificate it offers has a release."""

    __tablename__ = "certificate_releases"

    session_id: Mapped[str] = mapped_column(sa.ForeignKey("exam_sessions.id"), primary_key=True)
    certificate: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    released_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_by: Mapped[str] = mapped_column(sa.String(80))


class SectionAbsence(Base):
    """A registered candidate who did not sit one section: no result is expected for it, and
    every target requiring it is ``absent``."""

    __tablename__ = "section_absences"

    registration_id: Mapped[str] = mapped_column(
        sa.ForeignKey("registrations.id"), primary_key=True
    )
    section: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    session_id: Mapped[str] = mapped_column(sa.ForeignKey("exam_sessions.id"), index=True)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    marked_by: Mapped[str] = mapped_column(sa.String(80))
