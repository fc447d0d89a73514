"""The tamper-evident audit log: one append function for every audited write, a keyed chain,
checkpoints to keep elsewhere, and verification.

**Appending.** Every service that changes an outcome, a plan or who may do what calls
:func:`append` inside its own transaction, last::

    audit.append(db, actor=principal.actor, action="registration.created",
                 subject=registration.id, after={...})

``actor`` names who acted: :attr:`app.auth.Principal.actor` (``centre:CA:key_…``,
``admin:key_…``, ``department:MEM:user:wang``). ``action`` is ``<thing>.<past participle>``;
``subject`` the id of what changed; ``before``/``after`` JSON-ready values (decimals and dates
are converted). Personal data (ID numbers, certificate numbers) is passed masked or not at all;
on top of that, values under ``number``/``certificate_number`` are encrypted at rest by the
columns' type (:mod:`app.sealed`), and hashes are over the clear content.

**The chain.** Each entry's ``hash`` is HMAC-SHA256 over its canonical content and the previous
entry's hash, under the *chain key*: ``ONEEXAM_AUDIT_KEY`` if set, else a key derived from
``ONEEXAM_PII_KEY`` (HKDF, purpose ``audit-chain``). The key is never in the database, so a
database writer can neither edit an entry and recompute the chain nor forge a new one. The head
row is signed too, so cutting off the tail and pointing the head at the new tail shows. The
one thing a database writer can still do is put back an older head row together with cutting
the log short to it; a checkpoint (:func:`checkpoint`, kept outside the database) catches that.

**Entries written before the key.** A log written by an earlier version carries plain SHA-256
hashes and an unsigned head. The first keyed append (or ``oneexam audit seal``) first writes an
``audit.sealed`` entry, keyed, that links to the last old entry: the old entries are then fixed
by the chain like any other. Old-style entries are accepted only before that seal; a log with
old-style entries and no seal does not verify (run ``oneexam audit seal``), and a second seal
later in the log is a break, since it is how a cut-off tail would try to pass.

The key reaches :func:`append` through the session: :func:`bind` puts it in the
:class:`~app.db.Database`'s session info once, at start-up (``create_app``, the CLI).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import rules
from app.audit.models import AuditEntry, AuditHead
from app.config import Settings
from app.crypto import Vault, decode_key, derive_key, load_vault
from app.db import Database, insert_ignoring_conflicts, utcnow
from app.pagination import PageParams, fetch_page

GENESIS = "0" * 64
HEAD_ID = 1
SEAL_ACTION = "audit.sealed"
SYSTEM_ACTOR = "oneexam"
_KEY_INFO = "oneexam.audit_chain_key"


@dataclass(frozen=True)
class ChainKey:
    """The secret of the chain. Entries, the head and checkpoints are MACed under it, each
    message prefixed with what it is, so one can never stand in for another."""

    secret: bytes

    def mac(self, kind: str, message: str) -> str:
        return hmac.new(self.secret, f"{kind}\n{message}".encode(), hashlib.sha256).hexdigest()


def chain_key(settings: Settings, vault: Vault) -> ChainKey:
    """``ONEEXAM_AUDIT_KEY`` if set, else a key derived from the PII master key."""
    if settings.audit_key is not None:
        raw = decode_key(settings.audit_key.get_secret_value(), variable="ONEEXAM_AUDIT_KEY")
        return ChainKey(derive_key(raw, "audit-chain"))
    return ChainKey(vault.subkey("audit-chain"))


def bind(database: Database, key: Callable[[], ChainKey]) -> None:
    """Make the chain key available to every session of ``database`` (read on first use)."""
    database.session_info[_KEY_INFO] = cache(key)


def bind_settings(database: Database, settings: Settings) -> None:
    """:func:`bind` for a process that has no vault yet (the CLI, tools, tests): the key is
    worked out from ``settings`` when an entry is first appended or verified."""
    bind(database, lambda: chain_key(settings, load_vault(settings)))


def _key(db: Session) -> ChainKey:
    provider: Callable[[], ChainKey] | None = db.info.get(_KEY_INFO)
    if provider is None:
        raise RuntimeError("the audit chain key is not bound to this database (audit.bind)")
    return provider()


def _plain(value: Any) -> Any:
    """JSON-ready data, with decimals as numbers, so that what is hashed is what is stored, and
    every valid ID number in a string masked (certificate numbers embed them)."""
    if isinstance(value, str):
        return rules.mask_id_numbers_in(value)
    if value is None or isinstance(value, int | float):
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


def _canonical(entry: AuditEntry) -> str:
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
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def entry_hash(entry: AuditEntry, key: ChainKey) -> str:
    """HMAC-SHA256 over the entry's content and the previous entry's hash."""
    return key.mac("entry", _canonical(entry))


def unkeyed_entry_hash(entry: AuditEntry) -> str:
    """The plain SHA-256 that entries written before the key carry."""
    return hashlib.sha256(_canonical(entry).encode()).hexdigest()


def head_signature(seq: int, tip: str, key: ChainKey) -> str:
    return key.mac("head", f"{seq}:{tip}")


def _add(
    db: Session,
    head: AuditHead,
    key: ChainKey,
    *,
    actor: str,
    action: str,
    subject: str,
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
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
    entry.hash = entry_hash(entry, key)
    db.add(entry)
    head.seq, head.hash = entry.seq, entry.hash
    head.signature = head_signature(entry.seq, entry.hash, key)
    return entry


def _locked_head(db: Session) -> AuditHead:
    insert_ignoring_conflicts(
        db, AuditHead, [{"id": HEAD_ID, "seq": 0, "hash": GENESIS}], conflict_columns=["id"]
    )
    return db.scalars(sa.select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()).one()


def _seal_if_unkeyed(db: Session, head: AuditHead, key: ChainKey) -> None:
    if head.seq > 0 and head.signature is None:
        after = {"unkeyed_entries": head.seq}
        _add(
            db, head, key, actor=SYSTEM_ACTOR, action=SEAL_ACTION, subject="audit-log", after=after
        )


def append(
    db: Session, *, actor: str, action: str, subject: str, before: Any = None, after: Any = None
) -> AuditEntry:
    """Add an entry to the chain, inside the caller's transaction.

    Call it last in a transaction: the head row stays locked until commit, and every other
    audited write waits for it (one row update and one insert per entry).
    """
    key = _key(db)
    head = _locked_head(db)
    _seal_if_unkeyed(db, head, key)
    entry = _add(
        db, head, key, actor=actor, action=action, subject=subject, before=before, after=after
    )
    db.flush()
    return entry


def seal(db: Session) -> bool:
    """Key a chain written before the key (see the module docstring); False if nothing to do."""
    key = _key(db)
    head = _locked_head(db)
    unkeyed = head.seq > 0 and head.signature is None
    _seal_if_unkeyed(db, head, key)
    db.flush()
    return unkeyed


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


@dataclass(frozen=True)
class Checkpoint:
    """The chain's tip at a moment, signed with the chain key, for safekeeping elsewhere."""

    seq: int
    hash: str
    at: datetime
    signature: str

    def message(self) -> str:
        return f"{self.seq}:{self.hash}:{self.at.isoformat()}"

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "hash": self.hash,
            "at": self.at.isoformat(),
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint:
        """A checkpoint read back; ``ValueError`` if it is not one."""
        try:
            return cls(
                seq=int(data["seq"]),
                hash=str(data["hash"]),
                at=datetime.fromisoformat(str(data["at"])),
                signature=str(data["signature"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a checkpoint: {exc}") from None


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


class _Walk:
    """The state of one pass over the chain: where it is, and whether keyed entries began."""

    def __init__(self, key: ChainKey, checkpoint: Checkpoint | None) -> None:
        self.key, self.checkpoint = key, checkpoint
        self.prev, self.count, self.keyed = GENESIS, 0, False
        self.at_checkpoint: str | None = None

    def step(self, entry: AuditEntry) -> str | None:
        """The problem with this entry, if any."""
        self.count += 1
        if entry.seq != self.count:
            return f"entry {self.count} is missing"
        if entry.prev_hash != self.prev:
            return "does not link to the previous entry"
        if hmac.compare_digest(entry.hash, entry_hash(entry, self.key)):
            if entry.action == SEAL_ACTION and (self.keyed or entry.seq == 1):
                return "a seal where none belongs: entries may have been removed"
            if not self.keyed and entry.seq > 1 and entry.action != SEAL_ACTION:
                return "keyed entries follow unkeyed ones without a seal"
            self.keyed = True
        elif self.keyed or entry.hash != unkeyed_entry_hash(entry):
            return "content does not match its hash (changed, or recomputed without the key)"
        self.prev = entry.hash
        if self.checkpoint is not None and entry.seq == self.checkpoint.seq:
            self.at_checkpoint = entry.hash
        return None

    def end(self, head: AuditHead | None) -> Verification:
        n = self.count
        if n and not self.keyed:
            return Verification(n, 1, "entries written before the key are not sealed yet")
        if n and head is None:
            return Verification(n, n + 1, "the head row is missing: entries may have been removed")
        if head is not None and n and (head.seq, head.hash) != (n, self.prev):
            return Verification(n, n + 1, f"entries after {n} were removed")
        signature = (head.signature if head is not None else None) or ""
        if n and not hmac.compare_digest(signature, head_signature(n, self.prev, self.key)):
            return Verification(n, n + 1, "the head row's signature does not hold")
        return self._against_checkpoint()

    def _against_checkpoint(self) -> Verification:
        cp, n = self.checkpoint, self.count
        if cp is None:
            return Verification(n, None, None)
        if not hmac.compare_digest(cp.signature, self.key.mac("checkpoint", cp.message())):
            return Verification(n, cp.seq, "the checkpoint's signature does not hold")
        if n < cp.seq:
            return Verification(n, n + 1, f"the log is shorter than the checkpoint ({cp.seq})")
        if self.at_checkpoint != cp.hash:
            return Verification(n, cp.seq, "does not match the checkpoint's hash")
        return Verification(n, None, None)


def verify(db: Session, *, checkpoint: Checkpoint | None = None) -> Verification:
    """Recompute the whole chain; report the first entry whose link or content does not hold,
    a head that does not match, and (given a checkpoint) a log that no longer contains it."""
    walk = _Walk(_key(db), checkpoint)
    for entry in _entries(db):
        problem = walk.step(entry)
        if problem is not None:
            return Verification(walk.count, walk.count, problem)
    return walk.end(db.get(AuditHead, HEAD_ID))


def checkpoint(db: Session) -> Checkpoint:
    """The current tip, signed; ``ValueError`` if the chain does not verify."""
    result = verify(db)
    if not result.intact:
        raise ValueError(f"audit log broken at entry {result.first_broken}: {result.problem}")
    head = db.get(AuditHead, HEAD_ID)
    seq, tip = (head.seq, head.hash) if head is not None else (0, GENESIS)
    unsigned = Checkpoint(seq=seq, hash=tip, at=utcnow(), signature="")
    key = _key(db)
    return Checkpoint(seq, tip, unsigned.at, key.mac("checkpoint", unsigned.message()))
