"""Departments, their endpoints and their signing secrets."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.audit import service as audit
from app.crypto import Vault
from app.db import new_id, utcnow
from app.delivery.egress import Network, url_problem
from app.departments.models import Department, DepartmentSecret
from app.departments.schemas import DepartmentCreate, DepartmentUpdate
from app.errors import Conflict, NotFound, ProblemItem, Unprocessable
from app.i18n import _
from app.pagination import PageParams, fetch_page

ROTATION_OVERLAP = timedelta(hours=24)
SECRET_CONTEXT = "department-signing-secret"


def generate_signing_secret() -> str:
    """``whsec_`` + base64 of 32 random bytes (Standard Webhooks' format)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def get(*, db: Session, code: str) -> Department:
    department = db.get(Department, code, options=[selectinload(Department.secrets)])
    if department is None:
        raise NotFound(_("No department %(code)s.", code=code))
    return department


def list_departments(*, db: Session, page: PageParams) -> tuple[Sequence[Department], str | None]:
    stmt = sa.select(Department).options(selectinload(Department.secrets))
    return fetch_page(db, stmt, Department.code, page)


def _endpoint(department: Department) -> dict[str, object]:
    return {"webhook_url": department.webhook_url, "active": department.active}


def check_webhook_url(url: str | None, allowed: Sequence[Network]) -> str | None:
    """The URL as stored, once the egress policy allows it (422 otherwise)."""
    if url is None:
        return None
    problem = url_problem(url, allowed)
    if problem is not None:
        raise Unprocessable(
            _("The webhook URL is not allowed."),
            errors=[ProblemItem(pointer="/webhook_url", message=problem)],
        )
    return url


def create(
    *,
    db: Session,
    vault: Vault,
    data: DepartmentCreate,
    actor: str,
    allowed_networks: Sequence[Network] = (),
) -> tuple[Department, str]:
    webhook_url = check_webhook_url(
        str(data.webhook_url) if data.webhook_url else None, allowed_networks
    )
    if db.get(Department, data.code) is not None:
        raise Conflict(_("Department %(code)s already exists.", code=data.code))
    now = utcnow()
    department = Department(
        code=data.code,
        name=data.name,
        webhook_url=webhook_url,
        active=True,
        created_at=now,
        updated_at=now,
    )
    secret = generate_signing_secret()
    department.secrets.append(_sealed(vault, secret, now))
    db.add(department)
    try:
        db.flush()
    except IntegrityError:
        raise Conflict(_("Department %(code)s already exists.", code=data.code)) from None
    audit.append(
        db, actor=actor, action="department.created", subject=data.code, after=_endpoint(department)
    )
    return department, secret


def update(
    *,
    db: Session,
    code: str,
    data: DepartmentUpdate,
    actor: str,
    allowed_networks: Sequence[Network] = (),
) -> Department:
    department = get(db=db, code=code)
    before = _endpoint(department)
    fields = data.model_fields_set
    if "name" in fields and data.name is not None:
        department.name = data.name
    if "webhook_url" in fields:
        department.webhook_url = check_webhook_url(
            str(data.webhook_url) if data.webhook_url else None, allowed_networks
        )
    if "active" in fields and data.active is not None:
        department.active = data.active
        department.deactivated_reason = None if data.active else "turned off by an admin"
    department.updated_at = utcnow()
    db.flush()
    after = _endpoint(department)
    if after != before:
        audit.append(
            db, actor=actor, action="department.updated", subject=code, before=before, after=after
        )
    return department


def rotate_secret(*, db: Session, vault: Vault, code: str, actor: str) -> tuple[str, datetime]:
    """A new current secret; every secret still current now stays valid for 24 more hours."""
    department = get(db=db, code=code)
    now = utcnow()
    retire_at = now + ROTATION_OVERLAP
    for old in department.secrets:
        if old.expires_at is None:
            old.expires_at = retire_at
    secret = generate_signing_secret()
    department.secrets.append(_sealed(vault, secret, now))
    db.flush()
    audit.append(
        db,
        actor=actor,
        action="department.secret_rotated",
        subject=code,
        after={"previous_secrets_expire_at": retire_at},
    )
    return secret, retire_at


def active_secrets(department: Department, vault: Vault, at: datetime) -> list[str]:
    """Clear-text secrets that sign at ``at``, newest first."""
    live = [s for s in department.secrets if s.expires_at is None or s.expires_at > at]
    live.sort(key=lambda s: s.created_at, reverse=True)
    return [vault.decrypt_text(s.secret_encrypted, context=SECRET_CONTEXT) for s in live]


def _sealed(vault: Vault, secret: str, now: datetime) -> DepartmentSecret:
    return DepartmentSecret(
        id=new_id("sec"),
        secret_encrypted=vault.encrypt_text(secret, context=SECRET_CONTEXT),
        created_at=now,
    )


def mark_endpoint_gone(*, db: Session, code: str, reason: str) -> None:
    """A 410 from the endpoint: stop delivering until an admin reactivates it."""
    db.execute(
        sa.update(Department)
        .where(Department.code == code)
        .values(active=False, deactivated_reason=reason, updated_at=utcnow())
    )
