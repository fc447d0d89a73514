"""API keys: creation, revocation, and the lookup behind every authenticated request.

Only a key's SHA-256 is stored. The bootstrap admin key (``ONEEXAM_ADMIN_KEY``) gets a row of
its own, keyed by that hash, the first time it is presented: from then on it is listed, named
by its id in audit entries, and revoked with ``DELETE /v1/api-keys/{id}`` like any other key.
A revoked bootstrap key stays revoked across restarts; a new value of the variable is a new
key (a new hash, a new row).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.centres.models import Centre
from app.db import insert_ignoring_conflicts, new_id, utcnow
from app.departments.models import Department
from app.errors import NotFound, ProblemItem, Unprocessable
from app.i18n import _
from app.keys.models import ApiKey
from app.keys.schemas import ApiKeyCreate
from app.pagination import PageParams, fetch_page

if TYPE_CHECKING:
    from app.auth import Principal

KEY_PREFIX = "oek_"
BOOTSTRAP_LABEL = "ONEEXAM_ADMIN_KEY"
BOOTSTRAP_CREATOR = "bootstrap"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> str:
    """256 bits from the OS random source, URL-safe."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class KeyHolder:
    """Who a live key belongs to."""

    key_id: str
    role: str
    subject: str | None


def holder_of(*, db: Session, digest: str) -> KeyHolder | None:
    """The holder of the key with this SHA-256, or None if it is unknown or revoked."""
    row = db.execute(
        sa.select(ApiKey.id, ApiKey.key_hash, ApiKey.role, ApiKey.subject, ApiKey.revoked_at).where(
            ApiKey.key_hash == digest
        )
    ).first()
    # The lookup is by digest, so timing reveals nothing of the key; the comparison below is
    # constant-time all the same, so that no code path compares secrets byte by byte.
    if row is None or not hmac.compare_digest(row.key_hash, digest) or row.revoked_at is not None:
        return None
    return KeyHolder(row.id, row.role, row.subject)


def is_known(*, db: Session, digest: str) -> bool:
    """Whether a key with this SHA-256 has a row (revoked or not)."""
    return db.scalar(sa.select(ApiKey.id).where(ApiKey.key_hash == digest)) is not None


def ensure_bootstrap(*, db: Session, digest: str) -> None:
    """Give the bootstrap admin key its row, once; concurrent first uses end with one row."""
    row = {
        "id": new_id("key"),
        "key_hash": digest,
        "role": "admin",
        "subject": None,
        "label": BOOTSTRAP_LABEL,
        "created_at": utcnow(),
        "created_by": BOOTSTRAP_CREATOR,
    }
    insert_ignoring_conflicts(db, ApiKey, [row], conflict_columns=["key_hash"])


def create(*, db: Session, data: ApiKeyCreate, actor: Principal) -> tuple[ApiKey, str]:
    """A new key and its clear text, which is returned once and never stored."""
    if data.role == "centre" and db.get(Centre, data.subject) is None:
        raise Unprocessable(
            _("No centre %(code)s.", code=data.subject),
            errors=[ProblemItem(pointer="/subject", message=_("unknown centre"))],
        )
    if data.role == "department" and db.get(Department, data.subject) is None:
        raise Unprocessable(
            _("No department %(code)s.", code=data.subject),
            errors=[ProblemItem(pointer="/subject", message=_("unknown department"))],
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
    after = {"role": row.role, "subject": row.subject, "label": row.label}
    audit.append(db, actor=actor.actor, action="api_key.created", subject=row.id, after=after)
    return row, key


def revoke(*, db: Session, key_id: str, actor: Principal) -> None:
    row = db.get(ApiKey, key_id)
    if row is None:
        raise NotFound(_("No API key %(key_id)s.", key_id=key_id))
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.flush()
        audit.append(db, actor=actor.actor, action="api_key.revoked", subject=row.id)


def list_keys(*, db: Session, page: PageParams) -> tuple[Sequence[ApiKey], str | None]:
    return fetch_page(db, sa.select(ApiKey), ApiKey.id, page)
