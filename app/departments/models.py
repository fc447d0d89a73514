from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow


class Department(Base):
    """An issuing department and its webhook endpoint."""

    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    webhook_url: Mapped[str | None] = mapped_column(sa.String(2000))
    active: Mapped[bool] = mapped_column(default=True)
    """Whether the endpoint takes deliveries; a 410 turns it off until an admin turns it on."""
    deactivated_reason: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    secrets: Mapped[list[DepartmentSecret]] = relationship(
        back_populates="department", order_by="DepartmentSecret.created_at"
    )


class DepartmentSecret(Base):
    """A webhook signing secret, encrypted at rest. Rotation keeps the previous one for 24 h."""

    __tablename__ = "department_secrets"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    department_code: Mapped[str] = mapped_column(
        sa.ForeignKey("departments.code", ondelete="CASCADE"), index=True
    )
    secret_encrypted: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    department: Mapped[Department] = relationship(back_populates="secrets")
