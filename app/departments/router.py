from __future__ import annotations

from fastapi import APIRouter

from app.auth import Admin, AnyRole
from app.db import utcnow
from app.departments import service
from app.departments.models import Department
from app.departments.schemas import (
    DepartmentCreate,
    DepartmentCreated,
    DepartmentOut,
    DepartmentUpdate,
    SecretInfo,
    SecretRotated,
)
from app.deps import DatabaseDep, SettingsDep, VaultDep
from app.errors import Forbidden, problem_responses
from app.i18n import _
from app.pagination import Page, Paging
from app.schemas import CodePath

router = APIRouter(
    prefix="/v1/departments", tags=["departments"], responses=problem_responses(401, 403)
)


def department_out(department: Department) -> DepartmentOut:
    now = utcnow()
    return DepartmentOut(
        code=department.code,
        name=department.name,
        webhook_url=department.webhook_url,
        active=department.active,
        deactivated_reason=department.deactivated_reason,
        created_at=department.created_at,
        updated_at=department.updated_at,
        secrets=[
            SecretInfo(id=s.id, created_at=s.created_at, expires_at=s.expires_at)
            for s in department.secrets
            if s.expires_at is None or s.expires_at > now
        ],
    )


@router.post(
    "",
    summary="Register an issuing department",
    status_code=201,
    response_model=DepartmentCreated,
    responses=problem_responses(409, 422),
)
def create_department(
    data: DepartmentCreate,
    database: DatabaseDep,
    vault: VaultDep,
    settings: SettingsDep,
    admin: Admin,
) -> DepartmentCreated:
    """Register an issuing department. Its signing secret is shown only in this response.
    A ``webhook_url`` must reach only globally routable addresses (the egress policy)."""
    with database.write() as db:
        department, secret = service.create(
            db=db,
            vault=vault,
            data=data,
            actor=admin.actor,
            allowed_networks=settings.webhook_allowed_networks,
        )
        out = department_out(department)
    return DepartmentCreated(**out.model_dump(), signing_secret=secret)


@router.get("", summary="List departments", response_model=Page[DepartmentOut])
def list_departments(database: DatabaseDep, _admin: Admin, page: Paging) -> Page[DepartmentOut]:
    """Every issuing department with its webhook state and signing secrets (without their
    values)."""
    with database.read() as db:
        rows, cursor = service.list_departments(db=db, page=page)
        return Page(items=[department_out(d) for d in rows], next_cursor=cursor)


@router.get(
    "/{code}",
    summary="Read a department",
    response_model=DepartmentOut,
    responses=problem_responses(404),
)
def get_department(code: CodePath, database: DatabaseDep, principal: AnyRole) -> DepartmentOut:
    """An admin sees any department; a department key sees its own."""
    if not (principal.is_admin or principal.is_department(code)):
        raise Forbidden(_("Only an admin or the department itself can read it."))
    with database.read() as db:
        return department_out(service.get(db=db, code=code))


@router.patch(
    "/{code}",
    summary="Change a department's name or webhook",
    response_model=DepartmentOut,
    responses=problem_responses(404, 422),
)
def update_department(
    code: CodePath,
    data: DepartmentUpdate,
    database: DatabaseDep,
    settings: SettingsDep,
    admin: Admin,
) -> DepartmentOut:
    """Change the name or endpoint, or turn the endpoint back on (``active: true``)."""
    with database.write() as db:
        department = service.update(
            db=db,
            code=code,
            data=data,
            actor=admin.actor,
            allowed_networks=settings.webhook_allowed_networks,
        )
        return department_out(department)


@router.post(
    "/{code}/secret-rotations",
    summary="Rotate a department's signing secret",
    status_code=201,
    response_model=SecretRotated,
    responses=problem_responses(404),
)
def rotate_secret(
    code: CodePath, database: DatabaseDep, vault: VaultDep, admin: Admin
) -> SecretRotated:
    """A new signing secret. The previous one keeps signing alongside it for 24 hours."""
    with database.write() as db:
        secret, retire_at = service.rotate_secret(db=db, vault=vault, code=code, actor=admin.actor)
    return SecretRotated(signing_secret=secret, previous_valid_until=retire_at)
