from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth import Principal, generate_key, hash_key
from app.centres.models import Centre
from app.db import new_id, utcnow
from app.departments.models import Department
from app.errors import NotFound, ProblemItem, Unprocessable
from app.keys.models import ApiKey
from app.keys.schemas import ApiKeyCreate
from app.pagination import PageParams, fetch_page


def create(*, db: Session, data: ApiKeyCreate, actor: Principal) -> tuple[ApiKey, str]:
    """A new key and its clear text, which is returned once and never stored."""
    if data.role == "centre" and db.get(Centre, data.subject) is None:
        raise Unprocessable(
            f"No centre {data.subject}.",
            errors=[ProblemItem(pointer="/subject", message="unknown centre")],
        )
    if data.role == "department" and db.get(Department, data.subject) is None:
        raise Unprocessable(
            f"No department {data.subject}.",
            errors=[ProblemItem(pointer="/subject", message="unknown department")],
        )
    key = generate_key()
    row = ApiKey(
        id=new_id("key"),
        key_hash=hash_key(key),
        role=data.role,
        subject=data.subject,
        label=data.label,
        created_at=utcnow(),
        created_by=actor.actor,
    )
    db.add(row)
    db.flush()
    return row, key


def revoke(*, db: Session, key_id: str) -> None:
    row = db.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"No API key {key_id}.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.flush()


def list_keys(*, db: Session, page: PageParams) -> tuple[Sequence[ApiKey], str | None]:
    return fetch_page(db, sa.select(ApiKey), ApiKey.id, page)
