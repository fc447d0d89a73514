"""People: identify them by ID number without storing it in clear, and read their record."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.candidates.models import Candidate
from app.crypto import Vault
from app.db import insert_ignoring_conflicts, new_id, utcnow
from app.rules import birth_date_of, mask_id_number

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
    *, db: Session, vault: Vault, id_numbers: Mapping[str, str]
) -> dict[str, Candidate]:
    """The candidate row for each ``index -> normalised ID number``, creating missing ones.

    Safe under concurrency: two requests creating the same person both end with the one row.
    """
    found = find_by_index(db=db, indexes=id_numbers)
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
