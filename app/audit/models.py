from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from app.sealed import SealedNumbers


class AuditEntry(Base):
    """One write that changed an exam outcome, a plan or who may do what. Append-only and
    chained: each entry's ``hash`` is an HMAC-SHA256, under a key that is not in the database,
    of its content and the previous entry's hash, so an edited, removed or recomputed row shows.
    (Entries written before the chain was keyed carry a plain SHA-256; see
    :mod:`app.audit.service`.)"""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(sa.String(80))
    action: Mapped[str] = mapped_column(sa.String(64))
    subject: Mapped[str] = mapped_column(sa.String(80), index=True)
    before: Mapped[Any] = mapped_column(
        SealedNumbers("audit_log.before", tolerant=True), nullable=True
    )
    after: Mapped[Any] = mapped_column(
        SealedNumbers("audit_log.after", tolerant=True), nullable=True
    )
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)


class AuditHead(Base):
    """The chain's tip, one row. Locking it serialises appends so the chain never forks.

    ``signature`` is an HMAC of ``(seq, hash)`` under the chain key, so the tail cannot be cut
    off and the head pointed at the new tail; it is null only on a chain written before the key.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(sa.String(64))
    signature: Mapped[str | None] = mapped_column(sa.String(64))
