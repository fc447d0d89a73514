"""Bearer API keys, the principal behind a request, and role/scope dependencies.

Roles (docs/api.md §2): ``admin``; ``centre`` bound to one centre code; ``department`` bound to one
department code. A missing or unknown key is 401; a known key with the wrong role, or asking for
another centre's or department's resource, is 403 (404 where existence itself must not leak).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.deps import DatabaseDep, SettingsDep
from app.errors import Forbidden, Unauthorized
from app.i18n import _
from app.keys import service as keys
from app.keys.service import generate_key, hash_key

__all__ = ["Principal", "generate_key", "hash_key"]

Role = Literal["admin", "centre", "department"]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer oek_…`")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: a role, the centre or department it is bound to, and who exactly.

    ``key_id`` is the acting API key's id (``key_…``, the bootstrap admin key included) or, for
    a person signed in to the console, ``user:<username>``. :attr:`actor` names both the role and
    that id, and is what audit entries record.
    """

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


def authenticate(database: DatabaseDep, settings: SettingsDep, presented: str) -> Principal:
    """The principal for a presented key (looked up by its hash, compared in constant time).

    The bootstrap admin key gets its row the first time it is presented (see
    :mod:`app.keys.service`); afterwards it is found, and revoked, like any other key.
    """
    digest = hash_key(presented)
    with database.read() as db:
        holder = keys.holder_of(db=db, digest=digest)
        known = holder is not None or keys.is_known(db=db, digest=digest)
    bootstrap = settings.admin_key
    if (
        not known
        and bootstrap
        and hmac.compare_digest(digest, hash_key(bootstrap.get_secret_value()))
    ):
        with database.write() as db:
            keys.ensure_bootstrap(db=db, digest=digest)
            holder = keys.holder_of(db=db, digest=digest)
    if holder is None:
        raise Unauthorized(_("The API key is unknown or has been revoked."))
    return Principal(cast(Role, holder.role), holder.subject, holder.key_id)


def current_principal(
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized(_("Send an API key as `Authorization: Bearer <key>`."))
    principal = authenticate(database, settings, credentials.credentials)
    request.scope["principal_kind"] = principal.role
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def _require(*roles: Role) -> Callable[[Principal], Principal]:
    allowed = ", ".join(roles)

    def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            raise Forbidden(
                _(
                    "This needs a key with role %(allowed)s; yours is %(role)s.",
                    allowed=allowed,
                    role=principal.role,
                )
            )
        return principal

    return dependency


Admin = Annotated[Principal, Depends(_require("admin"))]
AdminOrCentre = Annotated[Principal, Depends(_require("admin", "centre"))]
DepartmentOnly = Annotated[Principal, Depends(_require("department"))]
AdminOrDepartment = Annotated[Principal, Depends(_require("admin", "department"))]
AnyRole = CurrentPrincipal
