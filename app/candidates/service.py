"""People: identify them by ID number without storing it in clear, and read their record."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import clock
from app.candidates.models import Candidate, CandidateCertificate
from app.crypto import Vault
from app.db import insert_ignoring_conflicts, new_id, utcnow
from app.errors import Conflict
from app.i18n import _
from app.rules import HeldCertificate, birth_date_of, mask_id_number

CANCELLED = "the issuance request it was issued on was cancelled"


class AlreadyRevoked(Conflict):
    """The certificate was already revoked for another reason (revoking it again with the
    same reason is not an error: it changes nothing)."""

    slug = "already-revoked"


ID_NUMBER_CONTEXT = "national-id-number"


def id_number_index(vault: Vault, id_number: str) -> str:
    """The blind index of a normalised ID number."""
    return vault.blind_index(id_number, context=ID_NUMBER_CONTEXT)


def reveal_id_number(vault: Vault, id_number_encrypted: str) -> str:
    """The full number: only for the issuance webhook to the issuing department."""
    return vault.decrypt_text(id_number_encrypted, context=ID_NUMBER_CONTEXT)


def find_by_index(*, db: Session, indexes: Iterable[str]) -> dict[str, Candidate]:
    wanted = list(set(indexes))
    if not wanted:
        return {}
    rows = db.scalars(sa.select(Candidate).where(Candidate.id_number_index.in_(wanted)))
    return {c.id_number_index: c for c in rows}


def ensure_candidates(
    *,
    db: Session,
    vault: Vault,
    id_numbers: Mapping[str, str],
    known: Mapping[str, Candidate],
) -> dict[str, Candidate]:
    """The candidate row for each ``index -> normalised ID number``, creating missing ones.
    ``known`` are the rows the caller already looked up (they are not read again).

    Safe under concurrency: two requests creating the same person both end with the one row.
    """
    found = {index: known[index] for index in id_numbers if index in known}
    missing = {index: number for index, number in id_numbers.items() if index not in found}
    if missing:
        now = utcnow()
        insert_ignoring_conflicts(
            db,
            Candidate,
            [
                {
                    "id": new_id("cand"),
                    "id_number_index": index,
                    "id_number_encrypted": vault.encrypt_text(number, context=ID_NUMBER_CONTEXT),
                    "id_number_masked": mask_id_number(number),
                    "birth_date": birth_date_of(number),
                    "created_at": now,
                }
                for index, number in missing.items()
            ],
            conflict_columns=["id_number_index"],
        )
        found.update(find_by_index(db=db, indexes=missing))
    return found


def verified_held(
    *, db: Session, candidate_ids: Iterable[str], lock: bool = False
) -> dict[str, list[HeldCertificate]]:
    """Each person's certificates issued through oneexam, as held and verified; revoked ones are
    marked ``revoked`` (they never count, and a declared copy of one counts no more: see
    ``rules.with_record``).

    ``lock`` (a registration deciding on them): the rows are read ``FOR SHARE`` on PostgreSQL,
    so a revocation in progress is waited for, and a revocation waits for the registration
    (and then finds it to re-plan); see :func:`revoke`.
    """
    wanted = list(set(candidate_ids))
    out: dict[str, list[HeldCertificate]] = {}
    if not wanted:
        return out
    stmt = sa.select(CandidateCertificate).where(CandidateCertificate.candidate_id.in_(wanted))
    if lock:  # read afresh once locked, whatever this session loaded before
        stmt = stmt.with_for_update(read=True).execution_options(populate_existing=True)
    for c in db.scalars(stmt):
        out.setdefault(c.candidate_id, []).append(
            HeldCertificate(
                c.certificate,
                c.number,
                c.valid_until,
                verified=True,
                revoked=c.revoked_at is not None,
            )
        )
    return out


def certificates_of(*, db: Session, candidate_id: str) -> list[CandidateCertificate]:
    return list(
        db.scalars(
            sa.select(CandidateCertificate)
            .where(CandidateCertificate.candidate_id == candidate_id)
            .order_by(CandidateCertificate.issued_on, CandidateCertificate.id)
        )
    )


def revoke_certificate(*, db: Session, request_id: str, now: datetime) -> None:
    """The request a certificate was issued on has been cancelled: it no longer counts."""
    db.execute(
        sa.update(CandidateCertificate)
        .where(
            CandidateCertificate.issuance_request_id == request_id,
            CandidateCertificate.revoked_at.is_(None),
        )
        .values(
            revoked_at=now,
            revoked_on=clock.today(),
            revocation_reason=CANCELLED,
            revoked_by="re-evaluation",
        )
    )


def get_certificate(
    *, db: Session, certificate_id: str, lock: bool = False
) -> CandidateCertificate | None:
    """One entry of the record. ``lock``: the row is locked ``FOR UPDATE`` and read afresh, not
    taken from the session's identity map (a revocation that read it before waiting for the lock
    would otherwise decide on what it saw then, not on what the other revocation committed)."""
    stmt = sa.select(CandidateCertificate).where(CandidateCertificate.id == certificate_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return db.scalars(stmt).first()


def certificate_for_request(*, db: Session, request_id: str) -> CandidateCertificate | None:
    """The record entry a request was issued as (None until it is issued)."""
    return db.scalars(
        sa.select(CandidateCertificate).where(
            CandidateCertificate.issuance_request_id == request_id
        )
    ).first()


def revoke(
    certificate: CandidateCertificate, *, reason: str, actor: str, now: datetime, on: date
) -> bool:
    """Revoke a certificate of the record (its department, or an admin): from now on it counts
    as held nowhere. True when this revoked it; False when it was already revoked for the same
    reason (nothing changes); 409 when it was revoked for another reason."""
    if certificate.revoked_at is not None:
        if certificate.revocation_reason == reason:
            return False
        raise AlreadyRevoked(
            _(
                "The certificate was already revoked on %(on)s for another reason: %(reason)s",
                on=str(certificate.revoked_on),
                reason=certificate.revocation_reason or "",
            )
        )
    certificate.revoked_at = now
    certificate.revoked_on = on
    certificate.revocation_reason = reason
    certificate.revoked_by = actor
    return True
