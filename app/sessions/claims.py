"""One open registration per person and certificate across sessions (docs/api.md §6).

A unique key decides it, not a look-up: each registration inserts a claim per target into
``registration_claims`` (primary key: person, certificate) with ``ON CONFLICT DO NOTHING``. On
PostgreSQL a concurrent insert of the same key waits for the other transaction and then inserts
nothing if that one committed, so of two centres registering one person for one certificate at
the same moment exactly one wins; on SQLite writers are serialised anyway. The look-up
(:func:`claimed_elsewhere`) only answers the common case early and in order.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.sessions.models import RegistrationClaim

PAGE = 5000
"""Claims per INSERT sent (four parameters each: inside SQLite's and PostgreSQL's limits), so a
batch of 1,000 registrations claims in one statement however many targets it has."""


@dataclass(frozen=True, slots=True)
class Wanted:
    """The claims one registration asks for."""

    registration_id: str
    candidate_id: str
    certificates: Collection[str]


def claimed_elsewhere(
    db: Session, *, session_id: str, wanted: Mapping[str, Collection[str]]
) -> dict[str, list[str]]:
    """candidate id -> those of its wanted certificates that a registration in another session
    holds open."""
    if not wanted:
        return {}
    found: dict[str, list[str]] = {}
    stmt = sa.select(RegistrationClaim.candidate_id, RegistrationClaim.certificate).where(
        RegistrationClaim.candidate_id.in_(list(wanted)),
        RegistrationClaim.session_id != session_id,
    )
    for candidate_id, certificate in db.execute(stmt.order_by(RegistrationClaim.certificate)):
        if certificate in wanted[candidate_id]:
            found.setdefault(candidate_id, []).append(certificate)
    return found


def claim(db: Session, *, session_id: str, wanted: Sequence[Wanted]) -> dict[str, list[str]]:
    """Claim every wanted certificate; registration id -> the certificates it could not claim
    (another registration holds them). A registration that lost one keeps none of its claims."""
    values = sorted(
        (
            {
                "candidate_id": w.candidate_id,
                "certificate": certificate,
                "registration_id": w.registration_id,
                "session_id": session_id,
            }
            for w in wanted
            for certificate in w.certificates
        ),
        key=lambda v: (v["candidate_id"], v["certificate"]),  # one lock order for every writer
    )
    insert = sqlite_insert if db.get_bind().dialect.name == "sqlite" else postgresql_insert
    table: sa.Table = RegistrationClaim.__table__  # type: ignore[assignment]  # Core: no ORM per row
    stmt = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["candidate_id", "certificate"])
        .returning(table.c.registration_id, table.c.certificate)
        .execution_options(insertmanyvalues_page_size=PAGE)
    )
    won: set[tuple[str, str]] = set()
    if values:  # one statement, its rows sent in batches (SQLAlchemy's insertmanyvalues)
        won.update((r, c) for r, c in db.execute(stmt, values))
    lost: dict[str, list[str]] = {}
    for w in wanted:
        missing = sorted(c for c in w.certificates if (w.registration_id, c) not in won)
        if missing:
            lost[w.registration_id] = missing
    if lost:
        release(db, registration_ids=list(lost))
    return lost


def release(
    db: Session,
    *,
    registration_ids: Iterable[str] | None = None,
    session_id: str | None = None,
    certificates: Iterable[str] | None = None,
) -> None:
    """End the claims of these registrations, or of this session (only for ``certificates``,
    when given)."""
    stmt = sa.delete(RegistrationClaim)
    if registration_ids is not None:
        stmt = stmt.where(RegistrationClaim.registration_id.in_(list(registration_ids)))
    if session_id is not None:
        stmt = stmt.where(RegistrationClaim.session_id == session_id)
    if certificates is not None:
        stmt = stmt.where(RegistrationClaim.certificate.in_(list(certificates)))
    db.execute(stmt)
