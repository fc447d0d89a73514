"""Centre staff after the doors open: the results grid, absences, finalisation, outcomes and
delivery per department."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.auth import Principal
from app.console import forms
from app.console.i18n import _, problem_text
from app.console.pages import router
from app.console.session_pages import (
    SessionHead,
    all_registrations,
    render_tab,
    session_head,
)
from app.console.web import ALL, Person, require_role, see_other
from app.db import DatabaseDep, utcnow
from app.delivery.outbox import Outbox
from app.departments.models import Department
from app.deps import OutboxDep
from app.errors import AppError
from app.i18n.validation import pydantic_message
from app.issuance import service as issuance_service
from app.issuance.router import request_detail
from app.pagination import PageParams
from app.results import absence, finalisation, recording
from app.results.models import Result
from app.results.schemas import AbsenceIn, ResultIn
from app.schemas import as_json_number
from app.sessions.schemas import RegistrationOut
from app.sessions.states import RegistrationStatus

CELL = "cell:"


@dataclass
class Grid:
    """What the results grid shows: each cell's text and, after a refused save, its problem."""

    values: dict[tuple[str, str], str] = field(default_factory=dict)
    stored: set[tuple[str, str]] = field(default_factory=set)
    errors: dict[tuple[str, str], str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    saved: tuple[int, int] | None = None


def _stored_results(db: Session, session_id: str) -> dict[tuple[str, str], str]:
    rows = db.execute(
        sa.select(Result.registration_id, Result.section, Result.score, Result.passed).where(
            Result.session_id == session_id
        )
    )
    out = {}
    for reg, section, score, passed in rows:
        out[(reg, section)] = (
            str(as_json_number(score)) if score is not None else ("合格" if passed else "不合格")
        )
    return out


def _grid_page(
    request: Request,
    person: Person,
    database: DatabaseDep,
    principal: Principal,
    session_id: str,
    grid: Grid | None = None,
    *,
    status: int = 200,
) -> Response:
    with database.read() as db:
        head = session_head(db, principal, session_id)
        regs = [
            r
            for r in all_registrations(db, principal, session_id)
            if r.status != RegistrationStatus.WITHDRAWN  # takes no results
        ]
        stored = _stored_results(db, session_id)
        absent = {
            r.id: {a.section for a in absence.absent_sections(db, registration_id=r.id)}
            for r in regs
        }
    grid = grid or Grid()
    grid.stored = set(stored)
    refused = bool(grid.errors or grid.general)
    values = {**stored, **grid.values} if refused else {**grid.values, **stored}
    grid.values = values
    template = "_grid.html" if request.headers.get("hx-request") else "results.html"
    return render_tab(
        request,
        template,
        head,
        "results",
        person=person,
        status=status,
        registrations=regs,
        grid=grid,
        now=utcnow(),
        absent=absent,
    )


@router.get("/sessions/{session_id}/results", response_class=HTMLResponse)
def results_page(
    request: Request, session_id: str, person: Person, database: DatabaseDep
) -> Response:
    principal = require_role(person, "centre")
    return _grid_page(request, person, database, principal, session_id)


def _rows_from_form(form: Any) -> tuple[list[tuple[str, str]], list[ResultIn], Grid]:
    """The filled cells as result rows (in grid order), and the cells that are unreadable."""
    grid = Grid()
    keys: list[tuple[str, str]] = []
    rows: list[ResultIn] = []
    for name, raw in form.multi_items():
        if not name.startswith(CELL) or not isinstance(raw, str) or not raw.strip():
            continue
        reg_id, _sep, section = name[len(CELL) :].partition(":")
        key = (reg_id, section)
        grid.values[key] = raw.strip()
        value = forms.cell_value(raw)
        if value is None:
            grid.errors[key] = _("Enter a score, or 合格 / 不合格.")
            continue
        try:
            rows.append(
                ResultIn.model_validate(
                    {"registration_id": reg_id, "section": section, value[0]: value[1]}
                )
            )
        except ValidationError as exc:
            grid.errors[key] = "; ".join(problem_text(pydantic_message(e)) for e in exc.errors())
            continue
        keys.append(key)
    return keys, rows, grid


def _mark(grid: Grid, keys: list[tuple[str, str]], exc: AppError) -> None:
    """Put each of a refused batch's problems on the cell its pointer names."""
    for item in exc.errors or []:
        parts = (item.pointer or "").strip("/").split("/")
        if (
            len(parts) >= 2
            and parts[0] == "results"
            and parts[1].isdigit()
            and int(parts[1]) < len(keys)
        ):
            grid.errors[keys[int(parts[1])]] = problem_text(item.message)
        else:
            grid.general.append(problem_text(item.message))
    if not exc.errors:
        grid.general.append(problem_text(exc.detail or exc.title))


@router.post("/sessions/{session_id}/results", response_class=HTMLResponse)
async def save_results(
    request: Request, session_id: str, person: Person, database: DatabaseDep
) -> Response:
    """Save the grid all or nothing: any bad cell and nothing is written, every bad cell marked."""
    principal = require_role(person, "centre")
    keys, rows, grid = _rows_from_form(await request.form())
    try:
        with database.write() as db:
            summary = recording.record(
                db=db,
                session_id=session_id,
                principal=principal,
                rows=rows,
                dry_run=bool(grid.errors),
            )
    except AppError as exc:
        _mark(grid, keys, exc)
    if grid.errors or grid.general:
        grid.general.insert(0, _("Nothing was saved: correct the marked cells and save again."))
        return _grid_page(request, person, database, principal, session_id, grid, status=422)
    grid.saved = (summary.created, summary.unchanged)
    return _grid_page(request, person, database, principal, session_id, grid)


@router.post("/registrations/{registration_id}/absence", response_class=HTMLResponse)
def mark_absent(
    request: Request,
    registration_id: str,
    person: Person,
    database: DatabaseDep,
    section: Annotated[str, Form()] = "",
) -> Response:
    """Absent from the whole sitting, or (``section``) from one section only."""
    principal = require_role(person, "centre")
    data = AbsenceIn(sections=[section]) if section else None
    with database.write() as db:
        registration = absence.mark_absent(
            db=db, registration_id=registration_id, principal=principal, data=data
        )
        session_id = registration.session_id
    return see_other(f"/console/sessions/{session_id}/results")


@router.post("/sessions/{session_id}/absence", response_class=HTMLResponse)
def mark_absent_in_session(
    request: Request,
    session_id: str,
    person: Person,
    database: DatabaseDep,
    registration: Annotated[str, Form()] = "",
    section: Annotated[str, Form()] = "",
) -> Response:
    """The absence form under the results grid: a candidate and the whole sitting or a section."""
    return mark_absent(request, registration, person, database, section)


def _releases(db: Session, head: SessionHead, regs: list[RegistrationOut]) -> list[dict[str, Any]]:
    """For the confirmation: each certificate, the department it goes to, who aims for it, and
    whether it is released already."""
    session, catalogue = head.session, head.catalogue
    names = {code: name for code, name in db.execute(sa.select(Department.code, Department.name))}
    released = finalisation.released_certificates(db, session_id=session.id)
    out = []
    for code in session.certificates:
        certificate = catalogue.certificates[code]
        aiming = [
            r for r in regs if code in r.targets and r.status == RegistrationStatus.REGISTERED
        ]
        out.append(
            {
                "certificate": certificate,
                "department": names.get(certificate.department, certificate.department),
                "candidates": len(aiming),
                "released": code in released,
            }
        )
    return out


def _finalise_page(
    request: Request,
    person: Person,
    database: DatabaseDep,
    principal: Principal,
    session_id: str,
    *,
    status: int = 200,
    problem: list[str] | None = None,
) -> Response:
    with database.read() as db:
        head = session_head(db, principal, session_id)
        regs = all_registrations(db, principal, session_id)
        releases = _releases(db, head, regs)
    return render_tab(
        request,
        "finalise.html",
        head,
        "finalise",
        person=person,
        status=status,
        releases=releases,
        problem=problem,
    )


@router.get("/sessions/{session_id}/finalise", response_class=HTMLResponse)
def finalise_page(
    request: Request, session_id: str, person: Person, database: DatabaseDep
) -> Response:
    principal = require_role(person, "centre")
    return _finalise_page(request, person, database, principal, session_id)


@router.post("/sessions/{session_id}/finalise", response_class=HTMLResponse)
def finalise(
    request: Request,
    session_id: str,
    person: Person,
    database: DatabaseDep,
    outbox: OutboxDep,
    certificates: Annotated[list[str], Form()] = [],  # noqa: B006
) -> Response:
    """Release the certificates ticked on the confirmation page (all of them by default)."""
    principal = require_role(person, "centre")
    if not certificates:
        problem = [_("Tick at least one certificate to release.")]
        return _finalise_page(
            request, person, database, principal, session_id, status=422, problem=problem
        )
    try:
        with database.write() as db:
            finalisation.finalise(
                db=db,
                outbox=outbox,
                session_id=session_id,
                principal=principal,
                certificates=certificates,
            )
    except AppError as exc:
        return _finalise_page(
            request,
            person,
            database,
            principal,
            session_id,
            status=exc.status,
            problem=forms.problem_lines(exc),
        )
    return see_other(f"/console/sessions/{session_id}/outcomes?notice=finalised")


@router.get("/sessions/{session_id}/outcomes", response_class=HTMLResponse)
def outcomes_page(
    request: Request, session_id: str, person: Person, database: DatabaseDep, notice: str = ""
) -> Response:
    principal = require_role(person, "centre")
    with database.read() as db:
        head = session_head(db, principal, session_id)
        regs = {r.id: r for r in all_registrations(db, principal, session_id)}
        rows, _cursor = finalisation.outcomes_for(
            db=db, session_id=session_id, principal=principal, page=ALL
        )
        outcomes = [results_service_outcome(o) for o in rows]
    outcomes.sort(key=lambda o: (regs[o.registration_id].candidate.name, o.certificate))
    return render_tab(
        request,
        "outcomes.html",
        head,
        "outcomes",
        person=person,
        outcomes=outcomes,
        registrations=regs,
        notice=notice,
    )


def results_service_outcome(row: Any) -> Any:
    from app.results.schemas import outcome_out

    return outcome_out(row)


def _requests_of(db: Session, outbox: Outbox, principal: Principal, session_id: str) -> list[Any]:
    out = []
    page = ALL
    while True:
        rows, cursor = issuance_service.list_for(
            db=db,
            principal=principal,
            department=None,
            status=None,
            session_id=session_id,
            page=page,
        )
        out += [request_detail(db, outbox=outbox, principal=principal, request=r) for r in rows]
        if cursor is None:
            return out
        page = PageParams(limit=ALL.limit, cursor=cursor)


@router.get("/sessions/{session_id}/delivery", response_class=HTMLResponse)
def delivery_page(
    request: Request, session_id: str, person: Person, database: DatabaseDep, outbox: OutboxDep
) -> Response:
    principal = require_role(person, "centre")
    with database.read() as db:
        head = session_head(db, principal, session_id)
        requests = _requests_of(db, outbox, principal, session_id)
        names = {
            code: name for code, name in db.execute(sa.select(Department.code, Department.name))
        }
        regs = {r.id: r for r in all_registrations(db, principal, session_id)}
    by_department: dict[str, list[Any]] = defaultdict(list)
    for r in requests:
        by_department[r.department].append(r)
    return render_tab(
        request,
        "delivery.html",
        head,
        "delivery",
        person=person,
        departments=names,
        by_department=dict(sorted(by_department.items())),
        registrations=regs,
    )


@router.post("/issuance-requests/{request_id}/redeliver", response_class=HTMLResponse)
def redeliver(
    request: Request, request_id: str, person: Person, database: DatabaseDep, outbox: OutboxDep
) -> Response:
    principal = require_role(person, "centre")
    with database.write() as db:
        r = issuance_service.redeliver(
            db=db, outbox=outbox, principal=principal, request_id=request_id
        )
        session_id = r.session_id
    return see_other(f"/console/sessions/{session_id}/delivery")
