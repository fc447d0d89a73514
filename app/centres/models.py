from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import DEFAULT_TIMEZONE
from app.db import Base, UTCDateTime, utcnow


class Centre(Base):
    """An exam centre: it schedules sessions, registers candidates and records results."""

    __tablename__ = "centres"

    code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    region: Mapped[str | None] = mapped_column(sa.String(200))
    timezone: Mapped[str] = mapped_column(sa.String(64), server_default=DEFAULT_TIMEZONE)
    """IANA zone: a session's exam date is the local date of its start here."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
