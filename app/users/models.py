from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow
from app.users.states import SignInStatus, UserRole, UserStatus


def _in(column: str, values: type[UserStatus] | type[SignInStatus] | type[UserRole]) -> str:
    return f"{column} in ({', '.join(repr(v.value) for v in values)})"


class User(Base):
    """A person who signs in to the console; what they may see is their role and subject, as
    for an API key. Only the Argon2 hash of the password is kept."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    subject: Mapped[str | None] = mapped_column(sa.String(64))
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(16), default=UserStatus.ACTIVE)
    failed_sign_ins: Mapped[int] = mapped_column(default=0)
    last_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(sa.String(80))
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.CheckConstraint(_in("role", UserRole), name="role"),
        sa.CheckConstraint(_in("status", UserStatus), name="status"),
        sa.CheckConstraint("(role = 'admin') = (subject is null)", name="subject"),
    )


class SignInSession(Base):
    """A signed-in browser. The cookie carries a random token; only its SHA-256 is stored."""

    __tablename__ = "sign_in_sessions"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16), default=SignInStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(sa.String(32))

    __table_args__ = (sa.CheckConstraint(_in("status", SignInStatus), name="status"),)
