"""Department officers: their queue of issuance requests, one request in full, the decision."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from app import clock
from app.candidates import revocation
from app.candidates import service as candidates_service
from app.candidates.schemas import RevocationIn
from app.console import forms
from app.console.i18n import _
from app.console.pages import router
from app.console.web import Person, default_zone, render, require_role, see_other
from app.db import DatabaseDep
from app.delivery.outbox import Outbox
from app.deps import OutboxDep
from app.errors import AppError, Conflict
from app.issuance import service as issuance_service
from app.issuance.router import request_detail
from app.issuance.schemas import DecisionIn
from app.pagination import PageParams
from app.rules import mask_id_number

STATUSES = ("pending", "delivered", "issued", "rejected", "failed", "cancelled")


@router.get("/queue", response_class=HTMLResponse)
def queue_page(
    request: Request,
    person: Person,
    database: DatabaseDep,
    outbox: OutboxDep,
    status: str = "",
    session_id: str = "",
    cursor: str | None = None,
) -> Response:
    principal = require_role(person, "department")
    wanted = status if status in STATUSES else None
    with database.read() as db:
        rows, next_cursor = issuance_service.list_for(
            db=db,
            principal=principal,
            department=None,
            status=wanted,
            session_id=session_id.strip() or None,
            page=PageParams(limit=100, cursor=cursor or None),
        )
        payloads = issuance_service.payloads(db, outbox=outbox, principal=principal, requests=rows)
    items = [{"request": r, "payload": payloads.get(r.id, {})} for r in rows]
    return render(
        request,
        "queue.html",
        person=person,
        items=items,
        statuses=STATUSES,
        status_filter=wanted or "",
        session_id=session_id,
        next_cursor=next_cursor,
        mask=mask_id_number,
    )


def _detail(
    request: Request,
    person: Person,
    database: DatabaseDep,
    outbox: Outbox,
    request_id: str,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    principal = require_role(person, "department")
    with database.read() as db:
        r = issuance_service.get_for(db=db, principal=principal, request_id=request_id)
        detail = request_detail(db, outbox=outbox, principal=principal, request=r)
        issued = candidates_service.certificate_for_request(db=db, request_id=r.id)
    return render(
        request,
        "request.html",
        person=person,
        status=status,
        r=detail,
        p=detail.payload,
        issued=issued,
        today=clock.today(default_zone()).isoformat(),
        form=context.pop("form", {}),
        **context,
    )


@router.get("/requests/{request_id}", response_class=HTMLResponse)
def request_page(
    request: Request, request_id: str, person: Person, database: DatabaseDep, outbox: OutboxDep
) -> Response:
    return _detail(request, person, database, outbox, request_id)


def _refused(
    request: Request,
    person: Person,
    database: DatabaseDep,
    outbox: Outbox,
    request_id: str,
    refusal: AppError,
    **form: Any,
) -> Response:
    """The request's page again, with what was refused marked and the form as it was sent."""
    return _detail(
        request,
        person,
        database,
        outbox,
        request_id,
        status=refusal.status,
        problem=forms.problem_lines(refusal),
        **form,
    )


@router.post("/requests/{request_id}/decision", response_class=HTMLResponse)
def decide(
    request: Request,
    request_id: str,
    person: Person,
    database: DatabaseDep,
    outbox: OutboxDep,
    decision: Annotated[str, Form()] = "",
    certificate_number: Annotated[str, Form()] = "",
    issued_on: Annotated[str, Form()] = "",
    valid_until: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    principal = require_role(person, "department")
    form = {
        "decision": decision,
        "certificate_number": certificate_number,
        "issued_on": issued_on,
        "valid_until": valid_until,
        "reason": reason,
    }
    body = {k: v.strip() for k, v in form.items() if v.strip()}
    try:
        data = DecisionIn.model_validate(body)
        with database.write() as db:
            issuance_service.decide(
                db=db, outbox=outbox, principal=principal, request_id=request_id, data=data
            )
    except ValidationError as exc:
        refusal = forms.invalid(exc, _("The decision is not complete."))
        return _refused(request, person, database, outbox, request_id, refusal, form=form)
    except AppError as exc:
        return _refused(request, person, database, outbox, request_id, exc, form=form)
    return see_other(f"/console/requests/{request_id}?notice=decided")


@router.post("/requests/{request_id}/revocation", response_class=HTMLResponse)
def revoke(
    request: Request,
    request_id: str,
    person: Person,
    database: DatabaseDep,
    outbox: OutboxDep,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Revoke the certificate issued on this request (the page asks for a confirmation first):
    the same service, checks and audit entry as ``POST /v1/candidate-certificates/{id}/revocation``."""
    principal = require_role(person, "department")
    form = {"reason": reason}
    try:
        data = RevocationIn.model_validate({"reason": reason.strip()} if reason.strip() else {})
        with database.write() as db:
            r = issuance_service.get_for(db=db, principal=principal, request_id=request_id)
            issued = candidates_service.certificate_for_request(db=db, request_id=r.id)
            if issued is None:
                raise Conflict(_("Only an issued certificate can be revoked."))
            revocation.revoke(db, principal=principal, certificate_id=issued.id, reason=data.reason)
    except ValidationError as exc:
        refusal = forms.invalid(exc, _("Give the reason for the revocation."))
        return _refused(request, person, database, outbox, request_id, refusal, revoke_form=form)
    except AppError as exc:
        return _refused(request, person, database, outbox, request_id, exc, revoke_form=form)
    return see_other(f"/console/requests/{request_id}?notice=revoked")
