"""The tamper-evident audit log: append under the head lock, verify by recomputing the chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry, AuditHead
from app.db import insert_ignoring_conflicts, utcnow
from app.pagination import PageParams, fetch_page

GENESIS = "0" * 64
HEAD_ID = 1


def _plain(value: Any) -> Any:
    """JSON-ready data, with decimals as numbers, so that what is hashed is what is stored."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 over the entry's content and the previous entry's hash, canonically encoded."""
    content = {
        "seq": entry.seq,
        "at": entry.at.isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "before": entry.before,
        "after": entry.after,
        "prev": entry.prev_hash,
    }
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def append(
    db: Session, *, actor: str, action: str, subject: str, before: Any = None, after: Any = None
) -> AuditEntry:
    """Add an entry to the chain, inside the caller's transaction.

    Call it last in a transaction: the head row stays locked until commit, and every other
    audited write waits for it.
    """
    insert_ignoring_conflicts(
        db, AuditHead, [{"id": HEAD_ID, "seq": 0, "hash": GENESIS}], conflict_columns=["id"]
    )
    head = db.scalars(sa.select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()).one()
    entry = AuditEntry(
        seq=head.seq + 1,
        at=utcnow(),
        actor=actor,
        action=action,
        subject=subject,
        before=_plain(before),
        after=_plain(after),
        prev_hash=head.hash,
    )
    entry.hash = entry_hash(entry)
    db.add(entry)
    head.seq, head.hash = entry.seq, entry.hash
    db.flush()
    return entry


def list_entries(
    *, db: Session, subject: str | None, page: PageParams
) -> tuple[Sequence[AuditEntry], str | None]:
    """Entries oldest first, optionally only those about one subject."""
    stmt = sa.select(AuditEntry)
    if subject:
        stmt = stmt.where(AuditEntry.subject == subject)
    return fetch_page(db, stmt, AuditEntry.seq, page)


@dataclass(frozen=True)
class Verification:
    entries: int
    first_broken: int | None
    problem: str | None

    @property
    def intact(self) -> bool:
        return self.first_broken is None


def _entries(db: Session, chunk: int = 1000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = db.scalars(
            sa.select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(chunk)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        db.expunge_all()


def verify(db: Session) -> Verification:
    """Recompute the whole chain; report the first entry whose link or content does not hold."""
    prev, expected_seq, count = GENESIS, 1, 0
    for entry in _entries(db):
        count += 1
        if entry.seq != expected_seq:
            return Verification(count, expected_seq, f"entry {expected_seq} is missing")
        if entry.prev_hash != prev:
            return Verification(count, entry.seq, "does not link to the previous entry")
        recomputed = entry_hash(entry)
        if recomputed != entry.hash:
            return Verification(count, entry.seq, "content does not match its hash")
        prev, expected_seq = entry.hash, expected_seq + 1
    head = db.get(AuditHead, HEAD_ID)
    if head is not None and (head.seq, head.hash) != (expected_seq - 1, prev):
        return Verification(count, expected_seq, f"entries after {expected_seq - 1} were removed")
    return Verification(count, None, None)
