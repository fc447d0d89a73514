"""Issuance requests as the API shows them: listed and read by role, decided by their
department, redelivered. Every status change goes through ``app/issuance/lifecycle.py``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import rules
from app.audit import service as audit
from app.auth import Principal
from app.candidates import service as candidates_service
from app.candidates.models import Candidate, CandidateCertificate
from app.catalogue import service as catalogue_service
from app.crypto import Vault
from app.db import new_id, utcnow
from app.delivery.outbox import Outbox
from app.delivery.states import EventType
from app.errors import Conflict, Forbidden, NotFound, ProblemItem, Unprocessable
from app.i18n import _
from app.i18n.words import request_status
from app.issuance import lifecycle, payload
from app.issuance.models import IssuanceRequest
from app.issuance.schemas import DecisionIn
from app.issuance.states import Decision, RequestStatus
from app.pagination import PageParams, fetch_page
from app.sessions.models import ExamSession

REDELIVERABLE = (RequestStatus.FAILED, RequestStatus.DELIVERED)


def visible(stmt: sa.Select[Any], principal: Principal) -> sa.Select[Any]:
    """Scope a query on requests to what this principal may see."""
    if principal.role == "department":
        return stmt.where(IssuanceRequest.department_code == principal.subject)
    if principal.role == "centre":
        centre_sessions = sa.select(ExamSession.id).where(
            ExamSession.centre_code == principal.subject
        )
        return stmt.where(IssuanceRequest.session_id.in_(centre_sessions))
    return stmt


def list_for(
    *,
    db: Session,
    principal: Principal,
    department: str | None,
    status: str | None,
    session_id: str | None,
    page: PageParams,
) -> tuple[Sequence[IssuanceRequest], str | None]:
    stmt = visible(sa.select(IssuanceRequest), principal)
    if department:
        stmt = stmt.where(IssuanceRequest.department_code == department)
    if status:
        stmt = stmt.where(IssuanceRequest.status == status)
    if session_id:
        stmt = stmt.where(IssuanceRequest.session_id == session_id)
    return fetch_page(db, stmt, IssuanceRequest.id, page)


def get_for(
    *, db: Session, principal: Principal, request_id: str, lock: bool = False
) -> IssuanceRequest:
    stmt = visible(sa.select(IssuanceRequest).where(IssuanceRequest.id == request_id), principal)
    if lock:  # and read afresh once locked, not the copy this request may have loaded before
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    request: IssuanceRequest | None = db.scalars(stmt).first()
    if request is None:
        raise NotFound(_("No issuance request %(request_id)s.", request_id=request_id))
    return request


def require_department(principal: Principal, request: IssuanceRequest) -> None:
    if not principal.is_department(request.department_code):
        raise Forbidden(_("Only the department the request is addressed to can do this."))


def payloads(
    db: Session, *, outbox: Outbox, principal: Principal, requests: Sequence[IssuanceRequest]
) -> dict[str, dict[str, Any]]:
    """The ``issuance.requested`` data of each request, as this principal may see it: the full
    ID number for the issuing department (the pull interface), masked for everyone else."""
    bodies = outbox.bodies(db, [r.id for r in requests], event_type=EventType.REQUESTED)
    department_of = {r.id: r.department_code for r in requests}
    out = {}
    for request_id, body in bodies.items():
        data = json.loads(body)["data"]
        if not principal.is_department(department_of[request_id]):
            data = payload.masked(data, rules.mask_id_number)
            # certificate numbers of the exemption and prerequisite bases embed ID numbers too
            data = json.loads(rules.mask_id_numbers_in(json.dumps(data, ensure_ascii=False)))
        out[request_id] = data
    return out


def decide(
    *,
    db: Session,
    outbox: Outbox,
    principal: Principal,
    request_id: str,
    data: DecisionIn,
) -> IssuanceRequest:
    """Record the department's decision. The same decision again changes nothing; a different
    one, or any decision on a cancelled request, is a conflict. An issued certificate joins the
    person's verified record."""
    request = get_for(db=db, principal=principal, request_id=request_id, lock=True)
    require_department(principal, request)
    if request.status == RequestStatus.CANCELLED:
        raise Conflict(_("The request was cancelled; it takes no decision."))
    certificate = _certificate_of(db, request)
    _check_validity(data, certificate)
    if request.decision is not None:
        if _same_decision(request, data, certificate):
            return request
        raise Conflict(
            _(
                "The request was already decided (%(decision)s); a different decision is refused.",
                decision=request_status(request.decision or ""),
            )
        )
    if data.decision == Decision.ISSUED:
        _check_number(db, outbox.vault, request, data)
    now = utcnow()
    lifecycle.decide(
        db, outbox=outbox, request=request, decision=data.decision, actor=principal.actor, now=now
    )
    if data.decision == Decision.ISSUED:
        _issue(db, request, data, certificate)
    else:
        request.rejection_reason = data.reason
    db.flush()
    audit.append(
        db,
        actor=principal.actor,
        action="issuance.decided",
        subject=request.id,
        after={
            "decision": data.decision,
            "certificate_number": data.certificate_number,
            "issued_on": data.issued_on,
            "valid_until": request.valid_until,
            "reason": data.reason,
        },
    )
    return request


def _check_validity(data: DecisionIn, certificate: rules.Certificate) -> None:
    """``valid_until`` may not be before ``issued_on``, nor later than ``issued_on`` + the
    certificate's validity."""
    if data.valid_until is None or data.issued_on is None:
        return
    if data.valid_until < data.issued_on:
        raise Unprocessable(
            _("valid_until is before issued_on"),
            errors=[
                ProblemItem(pointer="/valid_until", message=_("valid_until is before issued_on"))
            ],
        )
    limit = certificate.valid_until(data.issued_on)
    if limit is not None and data.valid_until > limit:
        raise Unprocessable(
            _("valid_until is later than the certificate's validity allows."),
            errors=[
                ProblemItem(
                    pointer="/valid_until",
                    message=_(
                        "at most %(limit)s (issued_on + %(validity_years)s years)",
                        limit=limit.isoformat(),
                        validity_years=certificate.validity_years,
                    ),
                )
            ],
        )


def _check_number(db: Session, vault: Vault, request: IssuanceRequest, data: DecisionIn) -> None:
    """422 for a certificate number that embeds another person's ID number (the rule:
    ``rules.embeds_another_person``); the other person's number is not repeated."""
    assert data.certificate_number is not None  # an issued decision carries one (DecisionIn)
    own = db.scalars(
        sa.select(Candidate.id_number_index).where(Candidate.id == request.candidate_id)
    ).one()

    def is_holder(id_number: str) -> bool:
        return candidates_service.id_number_index(vault, id_number) == own

    if rules.embeds_another_person(data.certificate_number, is_holder):
        message = _("the number embeds an ID number that is not the candidate's")
        raise Unprocessable(
            _("The certificate number embeds another person's ID number."),
            errors=[ProblemItem(pointer="/certificate_number", message=message)],
        )


def _certificate_of(db: Session, request: IssuanceRequest) -> rules.Certificate:
    version = db.scalars(
        sa.select(ExamSession.catalogue_version).where(ExamSession.id == request.session_id)
    ).one()
    return catalogue_service.load(db=db, version=version).certificates[request.certificate]


def _issue(
    db: Session, request: IssuanceRequest, data: DecisionIn, certificate: rules.Certificate
) -> None:
    """The issued certificate's number and dates, and its entry in the person's record."""
    assert data.certificate_number is not None and data.issued_on is not None
    request.certificate_number = data.certificate_number
    request.issued_on = data.issued_on
    request.valid_until = data.valid_until or certificate.valid_until(data.issued_on)
    db.add(
        CandidateCertificate(
            id=new_id("cc"),
            candidate_id=request.candidate_id,
            certificate=request.certificate,
            department_code=request.department_code,
            number=data.certificate_number,
            issued_on=data.issued_on,
            valid_until=request.valid_until,
            issuance_request_id=request.id,
            created_at=request.decided_at,
        )
    )


def _same_decision(
    request: IssuanceRequest, data: DecisionIn, certificate: rules.Certificate
) -> bool:
    if request.decision != data.decision:
        return False
    if data.decision == Decision.REJECTED:
        return request.rejection_reason == data.reason
    assert data.issued_on is not None
    valid_until = data.valid_until or certificate.valid_until(data.issued_on)
    return (request.certificate_number, request.issued_on, request.valid_until) == (
        data.certificate_number,
        data.issued_on,
        valid_until,
    )


def redeliver(
    *, db: Session, outbox: Outbox, principal: Principal, request_id: str
) -> IssuanceRequest:
    """Queue a failed (or delivered) request's events again under their original webhook-ids
    (the outbox reports the requeue, and the request is ``pending`` again). Audited."""
    request = get_for(db=db, principal=principal, request_id=request_id, lock=True)
    if principal.role == "department":
        raise Forbidden(_("Redelivery is for an admin or the centre that ran the session."))
    if request.status not in REDELIVERABLE:
        raise Conflict(
            _(
                "The request is %(status)s; only failed or delivered requests are redelivered.",
                status=request_status(request.status),
            )
        )
    before = request.status
    outbox.requeue(db, now=utcnow(), subject_id=request.id)
    db.flush()
    db.refresh(request)
    audit.append(
        db,
        actor=principal.actor,
        action="issuance.redelivered",
        subject=request.id,
        before={"status": before},
        after={"status": request.status},
    )
    return request
