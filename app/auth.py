"""Bearer API keys, the principal behind a request, and role/scope dependencies.

Roles (docs/api.md §2): ``admin``; ``centre`` bound to one centre code; ``department`` bound to one
department code. A missing or unknown key is 401; a known key with the wrong role, or asking for
another centre's or department's resource, is 403 (404 where existence itself must not leak).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.db import DatabaseDep
from app.errors import Forbidden, Unauthorized
from app.keys.models import ApiKey

Role = Literal["admin", "centre", "department"]
KEY_PREFIX = "oek_"
BOOTSTRAP_KEY_ID = "bootstrap-admin"

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer oek_…`")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> str:
    """256 bits from the OS random source, URL-safe."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    subject: str | None
    key_id: str

    @property
    def actor(self) -> str:
        """Who did it, as written in audit entries and result histories."""
        return (
            f"{self.role}:{self.subject}:{self.key_id}" if self.subject else f"admin:{self.key_id}"
        )

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def is_centre(self, code: str) -> bool:
        return self.role == "centre" and self.subject == code

    def is_department(self, code: str) -> bool:
        return self.role == "department" and self.subject == code


def authenticate(request: Request, database: DatabaseDep, presented: str) -> Principal:
    """The principal for a presented key, compared in constant time."""
    digest = hash_key(presented)
    bootstrap: str | None = request.app.state.admin_key_hash
    if bootstrap is not None and hmac.compare_digest(digest, bootstrap):
        return Principal("admin", None, BOOTSTRAP_KEY_ID)
    with database.read() as db:
        row = db.execute(
            sa.select(
                ApiKey.id, ApiKey.key_hash, ApiKey.role, ApiKey.subject, ApiKey.revoked_at
            ).where(ApiKey.key_hash == digest)
        ).first()
    # The lookup is by digest, so timing reveals nothing of the key; the comparison below is
    # constant-time all the same, so that no code path compares secrets byte by byte.
    if row is None or not hmac.compare_digest(row.key_hash, digest) or row.revoked_at is not None:
        raise Unauthorized("The API key is unknown or has been revoked.")
    return Principal(row.role, row.subject, row.id)


def current_principal(
    request: Request,
    database: DatabaseDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("Send an API key as `Authorization: Bearer <key>`.")
    principal = authenticate(request, database, credentials.credentials)
    request.scope["principal_kind"] = principal.role
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def _require(*roles: Role):  # type: ignore[no-untyped-def]
    allowed = ", ".join(roles)

    def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"This needs a key with role {allowed}; yours is {principal.role}.")
        return principal

    return dependency


Admin = Annotated[Principal, Depends(_require("admin"))]
AdminOrCentre = Annotated[Principal, Depends(_require("admin", "centre"))]
DepartmentOnly = Annotated[Principal, Depends(_require("department"))]
AnyRole = CurrentPrincipal
