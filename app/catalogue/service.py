"""Versioned catalogue: every change is a new immutable version."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import rules
from app.audit import service as audit
from app.catalogue.models import CatalogueVersion
from app.catalogue.schemas import CatalogueDocument
from app.db import utcnow
from app.departments.models import Department
from app.errors import Conflict, NotFound, ProblemItem, Unprocessable
from app.i18n import _


def put(*, db: Session, document: CatalogueDocument, actor: str) -> CatalogueVersion:
    """Validate the whole document and store it as the next version; on any problem, store nothing."""
    doc = document.model_dump(mode="json")
    departments = db.scalars(sa.select(Department.code)).all()
    problems = rules.catalogue_problems(doc, departments)
    if problems:
        raise Unprocessable(
            _("The catalogue has %(count)s problem(s); nothing was stored.", count=len(problems)),
            errors=[ProblemItem(pointer=pointer, message=message) for pointer, message in problems],
        )
    latest = db.scalar(sa.select(sa.func.max(CatalogueVersion.version))) or 0
    row = CatalogueVersion(version=latest + 1, document=doc, created_at=utcnow(), created_by=actor)
    db.add(row)
    try:
        db.flush()
    except IntegrityError:
        raise Conflict(
            _("Another catalogue version was stored at the same moment; send it again.")
        ) from None
    audit.append(
        db,
        actor=actor,
        action="catalogue.version_stored",
        subject=f"catalogue/{row.version}",
        after={"version": row.version, "sha256": document_digest(doc)},
    )
    return row


def document_digest(document: dict[str, Any]) -> str:
    """SHA-256 of a catalogue document in canonical JSON: what the audit entry pins."""
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def latest(*, db: Session) -> CatalogueVersion:
    row = db.scalars(
        sa.select(CatalogueVersion).order_by(CatalogueVersion.version.desc()).limit(1)
    ).first()
    if row is None:
        raise NotFound(_("No catalogue has been stored yet."))
    return row


def get_version(*, db: Session, version: int) -> CatalogueVersion:
    row = db.get(CatalogueVersion, version)
    if row is None:
        raise NotFound(_("No catalogue version %(version)s.", version=version))
    return row


def load(*, db: Session, version: int) -> rules.Catalogue:
    """The pinned version as the rules core reads it: one query, no per-row lookups."""
    document: dict[str, Any] | None = db.scalar(
        sa.select(CatalogueVersion.document).where(CatalogueVersion.version == version)
    )
    if document is None:
        raise NotFound(_("No catalogue version %(version)s.", version=version))
    return rules.Catalogue.from_document(document, version)


def in_force(*, db: Session) -> rules.Catalogue:
    """The latest version, as the rules core reads it."""
    row = latest(db=db)
    return rules.Catalogue.from_document(row.document, row.version)


def certificate_problems(
    catalogue: rules.Catalogue, codes: Sequence[str], pointer: str
) -> list[ProblemItem]:
    """A problem for each code (at ``pointer/i``) that the catalogue lacks or that repeats."""
    problems = []
    for i, code in enumerate(codes):
        if code not in catalogue.certificates:
            problems.append(
                ProblemItem(
                    pointer=f"{pointer}/{i}",
                    message=_(
                        "%(code)s is not in catalogue version %(version)s",
                        code=code,
                        version=catalogue.version,
                    ),
                )
            )
        elif code in codes[:i]:
            problems.append(
                ProblemItem(
                    pointer=f"{pointer}/{i}", message=_("%(code)s is listed twice", code=code)
                )
            )
    return problems
