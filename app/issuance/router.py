from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from app import rules
from app.auth import AnyRole, DepartmentOnly, Principal
from app.db import DatabaseDep
from app.delivery import service as delivery_service
from app.delivery.outbox import Outbox
from app.delivery.schemas import AttemptOut
from app.delivery.states import AttemptOutcome, EventType
from app.deps import OutboxDep
from app.errors import problem_responses
from app.issuance import service
from app.issuance.models import IssuanceRequest
from app.issuance.schemas import (
    DecisionIn,
    DecisionOut,
    IssuanceRequestDetail,
    IssuanceRequestOut,
    RequestStatus,
)
from app.issuance.states import Decision
from app.pagination import Page, Paging
from app.schemas import CodeQuery, IdPath, IdQuery

router = APIRouter(
    prefix="/v1/issuance-requests", tags=["issuance"], responses=problem_responses(401, 403)
)


def request_out(r: IssuanceRequest, payload: dict[str, Any]) -> IssuanceRequestOut:
    return IssuanceRequestOut(
        id=r.id,
        status=RequestStatus(r.status),
        department=r.department_code,
        certificate=r.certificate,
        registration_id=r.registration_id,
        session_id=r.session_id,
        revision=r.revision,
        created_at=r.created_at,
        payload=payload,
    )


@router.get("", summary="List issuance requests", response_model=Page[IssuanceRequestOut])
def list_issuance_requests(
    database: DatabaseDep,
    outbox: OutboxDep,
    principal: AnyRole,
    page: Paging,
    department: CodeQuery = None,
    status: Annotated[RequestStatus | None, Query()] = None,
    session_id: IdQuery = None,
) -> Page[IssuanceRequestOut]:
    """A centre sees its sessions' requests; a department sees those addressed to it (this is
    the pull interface, with full ID numbers); an admin sees all."""
    with database.read() as db:
        rows, cursor = service.list_for(
            db=db,
            principal=principal,
            department=department,
            status=status,
            session_id=session_id,
            page=page,
        )
        payloads = service.payloads(db, outbox=outbox, principal=principal, requests=rows)
        return Page(
            items=[request_out(r, payloads.get(r.id, {})) for r in rows], next_cursor=cursor
        )


@router.get(
    "/{request_id}",
    summary="Read an issuance request",
    response_model=IssuanceRequestDetail,
    responses=problem_responses(404),
)
def get_issuance_request(
    request_id: IdPath, database: DatabaseDep, outbox: OutboxDep, principal: AnyRole
) -> IssuanceRequestDetail:
    """One request with every delivery attempt and the department's decision."""
    with database.read() as db:
        r = service.get_for(db=db, principal=principal, request_id=request_id)
        return request_detail(db, outbox=outbox, principal=principal, request=r)


def request_detail(
    db: Session, *, outbox: Outbox, principal: Principal, request: IssuanceRequest
) -> IssuanceRequestDetail:
    r = request
    payload = service.payloads(db, outbox=outbox, principal=principal, requests=[r]).get(r.id, {})
    attempts = [
        AttemptOut(
            attempt=a.attempt,
            event=EventType(d.event_type),
            webhook_id=d.id,
            at=a.started_at,
            status_code=a.status_code,
            error=a.error,
            duration_ms=a.duration_ms,
            outcome=AttemptOutcome(a.outcome),
        )
        for d, a in delivery_service.attempts_for(db, subject_id=r.id)
    ]
    decision = None
    if r.decision is not None and r.decided_at is not None:
        decision = DecisionOut(
            decision=Decision(r.decision),
            certificate_number=r.certificate_number
            if principal.is_department(r.department_code) or r.certificate_number is None
            else rules.mask_certificate_number(r.certificate_number),
            issued_on=r.issued_on,
            valid_until=r.valid_until,
            reason=r.rejection_reason,
            decided_at=r.decided_at,
        )
    return IssuanceRequestDetail(
        **request_out(r, payload).model_dump(),
        attempts=attempts,
        decision=decision,
        cancel_reason=r.cancel_reason,
    )


@router.post(
    "/{request_id}/decision",
    summary="Decide an issuance request (issued or rejected)",
    response_model=IssuanceRequestDetail,
    responses=problem_responses(404, 409, 422),
)
def decide(
    request_id: IdPath,
    data: DecisionIn,
    database: DatabaseDep,
    outbox: OutboxDep,
    principal: DepartmentOnly,
) -> IssuanceRequestDetail:
    """The addressed department's answer: ``issued`` (the certificate joins the person's
    verified record) or ``rejected``. The same decision again is a no-op; a different one, or a
    decision on a cancelled request, is 409."""
    with database.write() as db:
        r = service.decide(
            db=db, outbox=outbox, principal=principal, request_id=request_id, data=data
        )
        return request_detail(db, outbox=outbox, principal=principal, request=r)


@router.post(
    "/{request_id}/redeliver",
    summary="Deliver an issuance request again",
    status_code=202,
    response_model=IssuanceRequestDetail,
    responses=problem_responses(404, 409),
)
def redeliver(
    request_id: IdPath, database: DatabaseDep, outbox: OutboxDep, principal: AnyRole
) -> IssuanceRequestDetail:
    """Queue a failed (or delivered) request again; it is sent under its original
    ``webhook-id``. For an admin or the centre that ran the session."""
    with database.write() as db:
        r = service.redeliver(db=db, outbox=outbox, principal=principal, request_id=request_id)
        return request_detail(db, outbox=outbox, principal=principal, request=r)
