"""Administrators: departments (URL, active, secret rotation), centres, users, catalogue versions."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import yaml
from fastapi import Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from app.catalogue import service as catalogue_service
from app.catalogue.schemas import CatalogueDocument
from app.centres import service as centres_service
from app.centres.schemas import CentreCreate
from app.console import forms
from app.console.i18n import _
from app.console.pages import router
from app.console.web import ALL, Person, render, require_role, see_other
from app.db import DatabaseDep, utcnow
from app.departments import service as departments_service
from app.departments.schemas import DepartmentCreate, DepartmentUpdate
from app.deps import SettingsDep, VaultDep
from app.errors import AppError
from app.users import service as users_service


def _refused(
    page: Callable[..., Response],
    request: Request,
    person: Person,
    database: DatabaseDep,
    refusal: AppError,
) -> Response:
    """An administrator's page again, with what was refused: its status and its sentences."""
    return page(
        request, person, database, status=refusal.status, problem=forms.problem_lines(refusal)
    )


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, person: Person, database: DatabaseDep) -> Response:
    require_role(person, "admin")
    with database.read() as db:
        departments, _c1 = departments_service.list_departments(db=db, page=ALL)
        centres, _c2 = centres_service.list_centres(db=db, page=ALL)
        people = users_service.list_users(db)
        try:
            version: int | None = catalogue_service.latest(db=db).version
        except AppError:
            version = None
    return render(
        request,
        "admin.html",
        person=person,
        departments=len(departments),
        centres=len(centres),
        people=len(people),
        version=version,
    )


def _departments(
    request: Request, person: Person, database: DatabaseDep, *, status: int = 200, **context: Any
) -> Response:
    with database.read() as db:
        rows, _cursor = departments_service.list_departments(db=db, page=ALL)
        departments = [
            {
                "code": d.code,
                "name": d.name,
                "webhook_url": d.webhook_url,
                "active": d.active,
                "deactivated_reason": d.deactivated_reason,
                "secrets": len(d.secrets),
            }
            for d in rows
        ]
    return render(
        request,
        "admin_departments.html",
        person=person,
        status=status,
        departments=departments,
        **context,
    )


@router.get("/admin/departments", response_class=HTMLResponse)
def departments_page(request: Request, person: Person, database: DatabaseDep) -> Response:
    require_role(person, "admin")
    return _departments(request, person, database)


@router.post("/admin/departments", response_class=HTMLResponse)
def create_department(
    request: Request,
    person: Person,
    database: DatabaseDep,
    vault: VaultDep,
    settings: SettingsDep,
    code: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    webhook_url: Annotated[str, Form()] = "",
) -> Response:
    principal = require_role(person, "admin")
    try:
        data = DepartmentCreate.model_validate(
            {"code": code.strip(), "name": name.strip(), "webhook_url": webhook_url.strip() or None}
        )
        with database.write() as db:
            _department, secret = departments_service.create(
                db=db,
                vault=vault,
                data=data,
                actor=principal.actor,
                allowed_networks=settings.webhook_allowed_networks,
            )
    except ValidationError as exc:
        refusal = forms.invalid(exc, _("The department cannot be created."))
        return _refused(_departments, request, person, database, refusal)
    except AppError as exc:
        return _refused(_departments, request, person, database, exc)
    return _departments(request, person, database, secret={"code": data.code, "value": secret})


@router.post("/admin/departments/{code}", response_class=HTMLResponse)
def update_department(
    request: Request,
    code: str,
    person: Person,
    database: DatabaseDep,
    settings: SettingsDep,
    webhook_url: Annotated[str, Form()] = "",
    active: Annotated[str, Form()] = "",
) -> Response:
    principal = require_role(person, "admin")
    try:
        data = DepartmentUpdate.model_validate(
            {"webhook_url": webhook_url.strip() or None, "active": active == "on"}
        )
        with database.write() as db:
            departments_service.update(
                db=db,
                code=code,
                data=data,
                actor=principal.actor,
                allowed_networks=settings.webhook_allowed_networks,
            )
    except ValidationError as exc:
        refusal = forms.invalid(exc, _("The department cannot be changed."))
        return _refused(_departments, request, person, database, refusal)
    except AppError as exc:
        return _refused(_departments, request, person, database, exc)
    return see_other("/console/admin/departments")


@router.post("/admin/departments/{code}/secret-rotations", response_class=HTMLResponse)
def rotate_secret(
    request: Request, code: str, person: Person, database: DatabaseDep, vault: VaultDep
) -> Response:
    principal = require_role(person, "admin")
    with database.write() as db:
        secret, retire_at = departments_service.rotate_secret(
            db=db, vault=vault, code=code, actor=principal.actor
        )
    return _departments(
        request, person, database, secret={"code": code, "value": secret, "retire_at": retire_at}
    )


def _centres(
    request: Request, person: Person, database: DatabaseDep, *, status: int = 200, **context: Any
) -> Response:
    with database.read() as db:
        rows, _cursor = centres_service.list_centres(db=db, page=ALL)
    return render(
        request, "admin_centres.html", person=person, status=status, centres=rows, **context
    )


@router.get("/admin/centres", response_class=HTMLResponse)
def centres_page(request: Request, person: Person, database: DatabaseDep) -> Response:
    require_role(person, "admin")
    return _centres(request, person, database)


@router.post("/admin/centres", response_class=HTMLResponse)
def create_centre(
    request: Request,
    person: Person,
    database: DatabaseDep,
    code: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    region: Annotated[str, Form()] = "",
    timezone: Annotated[str, Form()] = "",
) -> Response:
    require_role(person, "admin")
    body: dict[str, Any] = {
        "code": code.strip(),
        "name": name.strip(),
        "region": region.strip() or None,
    }
    if timezone.strip() and "timezone" in CentreCreate.model_fields:
        body["timezone"] = timezone.strip()
    try:
        data = CentreCreate.model_validate(body)
        with database.write() as db:
            centres_service.create(
                db=db, data=data, default_timezone=request.app.state.settings.timezone
            )
    except ValidationError as exc:
        refusal = forms.invalid(exc, _("The centre cannot be created."))
        return _refused(_centres, request, person, database, refusal)
    except AppError as exc:
        return _refused(_centres, request, person, database, exc)
    return see_other("/console/admin/centres")


def _users(
    request: Request, person: Person, database: DatabaseDep, *, status: int = 200, **context: Any
) -> Response:
    with database.read() as db:
        people = users_service.list_users(db)
    return render(
        request,
        "admin_users.html",
        person=person,
        status=status,
        people=people,
        now=utcnow(),
        **context,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, person: Person, database: DatabaseDep) -> Response:
    require_role(person, "admin")
    return _users(request, person, database)


@router.post("/admin/users", response_class=HTMLResponse)
def create_user(
    request: Request,
    person: Person,
    database: DatabaseDep,
    username: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    subject: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    principal = require_role(person, "admin")
    try:
        with database.write() as db:
            users_service.create(
                db,
                username=username.strip(),
                role=role,
                subject=subject.strip() or None,
                password=password,
                actor=principal.actor,
            )
    except AppError as exc:
        return _refused(_users, request, person, database, exc)
    return see_other("/console/admin/users")


@router.post("/admin/users/{username}/disable", response_class=HTMLResponse)
def disable_user(
    request: Request, username: str, person: Person, database: DatabaseDep
) -> Response:
    principal = require_role(person, "admin")
    with database.write() as db:
        users_service.disable(db, username=username, actor=principal.actor)
    return see_other("/console/admin/users")


@router.post("/admin/users/{username}/password", response_class=HTMLResponse)
def reset_password(
    request: Request,
    username: str,
    person: Person,
    database: DatabaseDep,
    password: Annotated[str, Form()] = "",
) -> Response:
    principal = require_role(person, "admin")
    try:
        with database.write() as db:
            users_service.reset_password(
                db, username=username, password=password, actor=principal.actor
            )
    except AppError as exc:
        return _refused(_users, request, person, database, exc)
    return see_other("/console/admin/users")


def _catalogue(
    request: Request,
    person: Person,
    database: DatabaseDep,
    version: int | None = None,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    with database.read() as db:
        try:
            latest = catalogue_service.latest(db=db)
        except AppError:
            latest = None
        shown = catalogue_service.get_version(db=db, version=version) if version else latest
    versions = list(range(latest.version, 0, -1)) if latest else []
    return render(
        request,
        "admin_catalogue.html",
        person=person,
        status=status,
        versions=versions,
        shown=shown,
        **context,
    )


@router.get("/admin/catalogue", response_class=HTMLResponse)
def catalogue_page(
    request: Request, person: Person, database: DatabaseDep, version: int | None = None
) -> Response:
    require_role(person, "admin")
    return _catalogue(request, person, database, version)


@router.post("/admin/catalogue", response_class=HTMLResponse)
async def upload_catalogue(
    request: Request, person: Person, database: DatabaseDep, file: UploadFile
) -> Response:
    """Store an uploaded catalogue (JSON or YAML) as a new version; every problem is listed."""
    principal = require_role(person, "admin")
    raw = (await file.read()).decode("utf-8-sig", errors="replace")
    try:
        document = (
            yaml.safe_load(raw)
            if (file.filename or "").endswith((".yaml", ".yml"))
            else json.loads(raw)
        )
        data = CatalogueDocument.model_validate(document)
        with database.write() as db:
            row = catalogue_service.put(db=db, document=data, actor=principal.actor)
            version = row.version
    except (ValueError, yaml.YAMLError) as exc:
        lines = (
            forms.problem_lines(
                forms.invalid(exc, _("The catalogue has problems; nothing was stored."))
            )
            if isinstance(exc, ValidationError)
            else [_("The file is not valid JSON or YAML."), str(exc)]
        )
        return _catalogue(request, person, database, status=422, problem=lines)
    except AppError as exc:
        return _refused(_catalogue, request, person, database, exc)
    return see_other(f"/console/admin/catalogue?version={version}")


REFERENCE = Path(__file__).resolve().parents[1] / "catalogue" / "reference"


@router.post("/admin/catalogue/reference", response_class=HTMLResponse)
def load_reference(
    request: Request, person: Person, database: DatabaseDep, vault: VaultDep
) -> Response:
    """Load the shipped reference (the four departments and the electrician/welder catalogue),
    as ``oneexam catalogue load-reference`` does; new departments' secrets are shown once."""
    principal = require_role(person, "admin")
    departments = json.loads((REFERENCE / "departments.json").read_text(encoding="utf-8"))
    document = json.loads((REFERENCE / "electrician-welder.json").read_text(encoding="utf-8"))
    secrets: list[dict[str, str]] = []
    try:
        with database.write() as db:
            known = {d.code for d in departments_service.list_departments(db=db, page=ALL)[0]}
            for raw in departments:
                data = DepartmentCreate.model_validate(raw)
                if data.code not in known:
                    _row, secret = departments_service.create(
                        db=db, vault=vault, data=data, actor=principal.actor
                    )
                    secrets.append({"code": data.code, "value": secret})
            row = catalogue_service.put(
                db=db, document=CatalogueDocument.model_validate(document), actor=principal.actor
            )
    except AppError as exc:
        return _refused(_catalogue, request, person, database, exc)
    return _catalogue(request, person, database, row.version, secrets=secrets)
