"""Centre staff: sessions, registrations (with the plan shown before saving, CSV upload)."""

from __future__ import annotations

import base64
import csv
import io
from typing import Annotated, Any

from fastapi import Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from app.auth import Principal
from app.console import forms
from app.console.i18n import _
from app.console.pages import router
from app.console.session_pages import (
    all_registrations,
    catalogue_names,
    render_tab,
    session_head,
    zone_of,
)
from app.console.web import ALL, Person, default_zone, render, require_role, see_other
from app.crypto import Vault
from app.db import DatabaseDep
from app.deps import VaultDep
from app.errors import AppError
from app.operator.importer import parse_registration
from app.rules import mask_id_number
from app.sessions import registrations
from app.sessions import service as sessions_service
from app.sessions.schemas import RegistrationCreate, RegistrationOut, SessionCreate


class _DryRun(Exception):
    """Raised to roll back a registration that was only a preview."""


@router.get("/sessions", response_class=HTMLResponse)
def sessions_page(request: Request, person: Person, database: DatabaseDep) -> Response:
    principal = require_role(person, "centre")
    return _sessions(request, person, database, principal)


def _sessions(
    request: Request,
    person: Person,
    database: DatabaseDep,
    principal: Principal,
    *,
    status: int = 200,
    problem: AppError | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    with database.read() as db:
        rows, _cursor = sessions_service.list_for(
            db=db, principal=principal, status=None, centre=None, page=ALL
        )
        sessions = sessions_service.sessions_out(db=db, sessions=rows)
        try:
            catalogue = catalogue_names(db)
        except AppError:
            catalogue = None
    sessions.sort(key=lambda s: s.starts_at, reverse=True)
    return render(
        request,
        "sessions.html",
        person=person,
        status=status,
        sessions=sessions,
        catalogue=catalogue,
        problem=forms.problem_lines(problem) if problem else None,
        form=form or {},
        zone_of=zone_of,
    )


@router.post("/sessions", response_class=HTMLResponse)
def schedule(
    request: Request,
    person: Person,
    database: DatabaseDep,
    certificates: Annotated[list[str], Form()] = [],  # noqa: B006
    day: Annotated[str, Form()] = "",
    starts: Annotated[str, Form()] = "",
    ends: Annotated[str, Form()] = "",
    capacity: Annotated[str, Form()] = "",
    venue: Annotated[str, Form()] = "",
) -> Response:
    principal = require_role(person, "centre")
    form = {
        "certificates": certificates,
        "day": day,
        "starts": starts,
        "ends": ends,
        "capacity": capacity,
        "venue": venue,
    }
    zone = default_zone()
    try:
        data = SessionCreate.model_validate(
            {
                "certificates": certificates,
                "starts_at": forms.local_instant(day, starts, zone),
                "ends_at": forms.local_instant(day, ends, zone),
                "capacity": capacity,
                "venue": venue.strip() or None,
            }
        )
        with database.write() as db:
            session = sessions_service.schedule(db=db, data=data, principal=principal)
            session_id = session.id
    except ValidationError as exc:
        problem = forms.invalid(exc, _("The session cannot be scheduled."))
        return _sessions(
            request, person, database, principal, status=422, problem=problem, form=form
        )
    except AppError as exc:
        return _sessions(
            request, person, database, principal, status=exc.status, problem=exc, form=form
        )
    return see_other(f"/console/sessions/{session_id}")


@router.get("/sessions/{session_id}", response_class=HTMLResponse)
def session_page(
    request: Request, session_id: str, person: Person, database: DatabaseDep, notice: str = ""
) -> Response:
    principal = require_role(person, "centre")
    return _session_page(request, person, database, principal, session_id, notice=notice)


def _session_page(
    request: Request,
    person: Person,
    database: DatabaseDep,
    principal: Principal,
    session_id: str,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    with database.read() as db:
        head = session_head(db, principal, session_id)
        regs = all_registrations(db, principal, session_id)
    return render_tab(
        request,
        "session.html",
        head,
        "registrations",
        person=person,
        status=status,
        registrations=regs,
        mask=mask_id_number,
        form=context.pop("form", {}),
        **context,
    )


def _registration_input(form: dict[str, Any]) -> dict[str, Any]:
    return {
        "candidate": {"id_number": form["id_number"].strip(), "name": form["name"].strip()},
        "targets": form["targets"],
        "held": forms.held_rows(form["held_certificate"], form["held_number"], form["held_until"]),
    }


def _try_register(
    database: DatabaseDep,
    vault: Vault,
    principal: Principal,
    session_id: str,
    row: dict[str, Any],
    *,
    save: bool,
) -> tuple[RegistrationOut | None, AppError | None]:
    """Register one candidate, or (``save=False``) show what registering would do and roll back."""
    try:
        data = RegistrationCreate.model_validate(row)
    except ValidationError as exc:
        return None, forms.invalid(exc, _("The registration is not complete."))
    outcome = None
    try:
        with database.write() as db:
            (outcome,) = registrations.register(
                db=db, vault=vault, session_id=session_id, principal=principal, rows=[data]
            )
            if not save:
                raise _DryRun
    except _DryRun:
        pass
    assert outcome is not None
    return outcome.registration, outcome.problem


RegistrationForm = dict[str, Any]


def _form_of(
    id_number: str,
    name: str,
    targets: list[str],
    held_certificate: list[str],
    held_number: list[str],
    held_until: list[str],
) -> RegistrationForm:
    return {
        "id_number": id_number,
        "name": name,
        "targets": targets,
        "held_certificate": held_certificate,
        "held_number": held_number,
        "held_until": held_until,
    }


@router.post("/sessions/{session_id}/registrations", response_class=HTMLResponse)
def register_one(
    request: Request,
    session_id: str,
    person: Person,
    database: DatabaseDep,
    vault: VaultDep,
    id_number: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    targets: Annotated[list[str], Form()] = [],  # noqa: B006
    held_certificate: Annotated[list[str], Form()] = [],  # noqa: B006
    held_number: Annotated[list[str], Form()] = [],  # noqa: B006
    held_until: Annotated[list[str], Form()] = [],  # noqa: B006
    action: Annotated[str, Form()] = "preview",
) -> Response:
    """``action=preview`` shows the plan (htmx fragment); ``action=save`` registers."""
    principal = require_role(person, "centre")
    form = _form_of(id_number, name, targets, held_certificate, held_number, held_until)
    save = action == "save"
    registration, problem = _try_register(
        database, vault, principal, session_id, _registration_input(form), save=save
    )
    if save and problem is None and registration is not None:
        return see_other(f"/console/sessions/{session_id}?notice=registered")
    context = {
        "plan": registration,
        "problem": problem,
        "problem_lines": forms.problem_lines(problem) if problem else None,
        "targets": (problem.extra.get("targets") if problem else None) or [],
        "form": form,
        "saved": False,
    }
    status = problem.status if problem else 200
    if not save and request.headers.get("hx-request"):
        with database.read() as db:
            head = session_head(db, principal, session_id)
        return render(
            request,
            "_plan.html",
            person=person,
            status=status,
            session=head.session,
            catalogue=head.catalogue,
            **context,
        )
    return _session_page(request, person, database, principal, session_id, status=status, **context)


@router.post("/sessions/{session_id}/registrations.csv", response_class=HTMLResponse)
async def upload_registrations(
    request: Request,
    session_id: str,
    person: Person,
    database: DatabaseDep,
    vault: VaultDep,
    file: UploadFile,
) -> Response:
    """Register every row of a CSV (id_number,name,targets,held); rows are independent. The
    refused rows, each with its problem, come back as a CSV file to download."""
    principal = require_role(person, "centre")
    text = (await file.read()).decode("utf-8-sig", errors="replace")
    rows = list(csv.DictReader(io.StringIO(text)))
    parsed = []
    for row in rows:
        try:
            parsed.append(parse_registration({k: (v or "") for k, v in row.items() if k}))
        except (ValueError, KeyError) as exc:
            parsed.append({"invalid": str(exc)})
    with database.write() as db:
        outcomes = registrations.register(
            db=db, vault=vault, session_id=session_id, principal=principal, rows=parsed
        )
    refused = [
        {
            "line": o.index + 2,
            "id_number": _masked(rows[o.index].get("id_number", "")),
            "name": rows[o.index].get("name", ""),
            "problem": " ".join(forms.problem_lines(o.problem)) if o.problem else "",
        }
        for o in outcomes
        if o.problem is not None
    ]
    created = sum(1 for o in outcomes if o.problem is None)
    return _session_page(
        request,
        person,
        database,
        principal,
        session_id,
        upload={
            "rows": len(rows),
            "created": created,
            "refused": refused,
            "error_file": _error_file(refused) if refused else None,
        },
    )


def _masked(value: str) -> str:
    try:
        return mask_id_number(value.strip())
    except Exception:
        return "*" * len(value.strip())


def _error_file(refused: list[dict[str, Any]]) -> str:
    """The refused rows as a CSV (UTF-8 with BOM, for Excel) in a ``data:`` link."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["line", "id_number", "name", "problem"])
    writer.writeheader()
    writer.writerows(refused)
    payload = ("\ufeff" + out.getvalue()).encode()
    return "data:text/csv;charset=utf-8;base64," + base64.b64encode(payload).decode()


@router.post("/sessions/{session_id}/cancel", response_class=HTMLResponse)
def cancel(request: Request, session_id: str, person: Person, database: DatabaseDep) -> Response:
    principal = require_role(person, "centre")
    with database.write() as db:
        sessions_service.cancel(db=db, session_id=session_id, principal=principal)
    return see_other(f"/console/sessions/{session_id}")
