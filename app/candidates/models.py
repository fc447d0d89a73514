from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class Candidate(Base):
    """A person, known by national ID number: encrypted at rest, found through a blind index."""

    __tablename__ = "candidates"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    id_number_index: Mapped[str] = mapped_column(sa.String(64), unique=True)
    id_number_encrypted: Mapped[str] = mapped_column(sa.Text)
    id_number_masked: Mapped[str] = mapped_column(sa.String(18))
    birth_date: Mapped[date] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
