"""Issuance requests: created at finalisation (with their outbox event), cancelled when a
re-evaluation disqualifies, listed and read by role."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import rules
from app.audit import service as audit
from app.auth import Principal
from app.candidates import service as candidates_service
from app.candidates.models import CandidateCertificate
from app.candidates.service import reveal_id_number
from app.catalogue import service as catalogue_service
from app.crypto import Vault
from app.db import bulk_insert, new_id, utcnow
from app.delivery import outbox
from app.delivery import service as delivery_service
from app.delivery.models import Delivery, DeliveryAttempt
from app.errors import Conflict, Forbidden, NotFound
from app.issuance import payload
from app.issuance.models import IssuanceRequest
from app.issuance.schemas import DecisionIn
from app.pagination import PageParams, fetch_page
from app.sessions.models import ExamSession


@dataclass(frozen=True)
class Sitter:
    """What an issuance request says about the person who sat."""

    registration_id: str
    name: str
    candidate_id: str
    id_number_encrypted: str
    birth_date: date


@dataclass(frozen=True)
class Qualified:
    """A (registration, certificate) that qualified and needs an issuance request."""

    sitter: Sitter
    target: rules.TargetPlan
    results: dict[str, rules.SectionResult]
    revision: int = 1


def create_requests(
    db: Session,
    vault: Vault,
    *,
    session: ExamSession,
    catalogue: rules.Catalogue,
    qualified: Sequence[Qualified],
    now: datetime,
    first_delay: float = 0.0,
) -> dict[tuple[str, str], str]:
    """One request and its ``issuance.requested`` event per qualified pair, inserted in bulk.
    Returns the request id for each (registration id, certificate)."""
    session_data = {
        "id": session.id,
        "centre": session.centre_code,
        "starts_at": session.starts_at.isoformat(),
        "catalogue_version": session.catalogue_version,
    }
    requests, events, ids = [], [], {}
    for q in qualified:
        certificate = catalogue.certificates[q.target.certificate]
        request_id = new_id("ir")
        candidate = {
            "id_number": reveal_id_number(vault, q.sitter.id_number_encrypted),
            "name": q.sitter.name,
            "birth_date": q.sitter.birth_date.isoformat(),
        }
        data = payload.requested_data(
            request_id=request_id,
            catalogue=catalogue,
            certificate_code=certificate.code,
            target=q.target,
            results=q.results,
            candidate=candidate,
            session=session_data,
        )
        requests.append(
            {
                "id": request_id,
                "session_id": session.id,
                "registration_id": q.sitter.registration_id,
                "candidate_id": q.sitter.candidate_id,
                "certificate": certificate.code,
                "department_code": certificate.department,
                "revision": q.revision,
                "status": "pending",
                "created_at": now,
                "updated_at": now,
            }
        )
        events.append(
            outbox.event_values(
                vault,
                request_id=request_id,
                department=certificate.department,
                event_type=payload.REQUESTED,
                body=payload.event_body(payload.REQUESTED, now, data),
                now=now,
                delay=first_delay,
            )
        )
        ids[(q.sitter.registration_id, certificate.code)] = request_id
    if requests:
        bulk_insert(db, IssuanceRequest, requests)
        outbox.add_events(db, events)
    return ids


def cancel(
    db: Session,
    vault: Vault,
    *,
    request: IssuanceRequest,
    reason: str,
    now: datetime,
    first_delay: float = 0.0,
) -> None:
    """Withdraw a request. The department hears of it only if it was told of the request:

    - its ``issuance.requested`` was never delivered and is not in flight: that event is
      dropped, and nothing at all is sent;
    - it was delivered: an ``issuance.cancelled`` event is queued;
    - it is in flight right now: the ``issuance.cancelled`` event is queued *held*, and the
      worker releases it only if that attempt succeeds (or drops both if it fails).
    """
    if request.status == "issued":
        candidates_service.revoke_certificate(db=db, request_id=request.id, now=now)
    request.status = "cancelled"
    request.cancelled_at = now
    request.cancel_reason = reason
    request.updated_at = now
    requested = db.scalars(
        sa.select(Delivery)
        .where(Delivery.request_id == request.id, Delivery.event_type == payload.REQUESTED)
        .with_for_update()
    ).first()
    if requested is None:
        return
    in_flight = requested.locked_until is not None and requested.locked_until > now
    if requested.status == "delivered":
        status = "pending"
    elif requested.status in ("pending", "failed") and in_flight:
        status = "held"
    else:
        requested.status = "cancelled"
        requested.locked_until = None
        db.flush()
        return
    body = payload.event_body(
        payload.CANCELLED, now, payload.cancelled_data(request_id=request.id, reason=reason)
    )
    outbox.add_events(
        db,
        [
            outbox.event_values(
                vault,
                request_id=request.id,
                department=request.department_code,
                event_type=payload.CANCELLED,
                body=body,
                now=now,
                status=status,
                delay=first_delay,
            )
        ],
    )
    db.flush()


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
    if lock:
        stmt = stmt.with_for_update()
    request: IssuanceRequest | None = db.scalars(stmt).first()
    if request is None:
        raise NotFound(f"No issuance request {request_id}.")
    return request


def require_department(principal: Principal, request: IssuanceRequest) -> None:
    if not principal.is_department(request.department_code):
        raise Forbidden("Only the department the request is addressed to can do this.")


def payloads(
    db: Session, vault: Vault, principal: Principal, requests: Sequence[IssuanceRequest]
) -> dict[str, dict[str, Any]]:
    """The ``issuance.requested`` data of each request, as this principal may see it: the full
    ID number for the issuing department (the pull interface), masked for everyone else."""
    if not requests:
        return {}
    rows = db.scalars(
        sa.select(Delivery).where(
            Delivery.request_id.in_([r.id for r in requests]),
            Delivery.event_type == payload.REQUESTED,
        )
    )
    department_of = {r.id: r.department_code for r in requests}
    out = {}
    for delivery in rows:
        data = json.loads(outbox.body_of(vault, delivery))["data"]
        if not principal.is_department(department_of[delivery.request_id]):
            data = payload.masked(data, rules.mask_id_number)
        out[delivery.request_id] = data
    return out


def attempts_of(db: Session, request_id: str) -> list[tuple[Delivery, DeliveryAttempt]]:
    stmt = (
        sa.select(Delivery, DeliveryAttempt)
        .join(DeliveryAttempt, DeliveryAttempt.delivery_id == Delivery.id)
        .where(Delivery.request_id == request_id)
        .order_by(DeliveryAttempt.started_at, DeliveryAttempt.attempt)
    )
    return [(d, a) for d, a in db.execute(stmt)]


def decide(
    *,
    db: Session,
    principal: Principal,
    request_id: str,
    data: DecisionIn,
) -> IssuanceRequest:
    """Record the department's decision. The same decision again changes nothing; a different
    one, or any decision on a cancelled request, is a conflict. An issued certificate joins the
    person's verified record."""
    request = get_for(db=db, principal=principal, request_id=request_id, lock=True)
    require_department(principal, request)
    if request.status == "cancelled":
        raise Conflict("The request was cancelled; it takes no decision.")
    version = db.scalars(
        sa.select(ExamSession.catalogue_version).where(ExamSession.id == request.session_id)
    ).one()
    certificate = catalogue_service.load(db=db, version=version).certificates[request.certificate]
    if request.decision is not None:
        if _same_decision(request, data, certificate):
            return request
        raise Conflict(
            f"The request was already decided ({request.decision}); a different decision is refused."
        )
    now = utcnow()
    request.decision = data.decision
    request.decided_at = now
    request.decided_by = principal.actor
    request.status = data.decision
    request.updated_at = now
    if data.decision == "issued":
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
                created_at=now,
            )
        )
    else:
        request.rejection_reason = data.reason
    # A pull-only department decided before any push: there is nothing left to deliver.
    db.execute(
        sa.update(Delivery)
        .where(
            Delivery.request_id == request.id,
            Delivery.event_type == payload.REQUESTED,
            Delivery.status == "pending",
            sa.or_(Delivery.locked_until.is_(None), Delivery.locked_until < now),
        )
        .values(status="cancelled", last_error="decided before it was delivered")
    )
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


def _same_decision(
    request: IssuanceRequest, data: DecisionIn, certificate: rules.Certificate
) -> bool:
    if request.decision != data.decision:
        return False
    if data.decision == "rejected":
        return request.rejection_reason == data.reason
    assert data.issued_on is not None
    valid_until = data.valid_until or certificate.valid_until(data.issued_on)
    return (request.certificate_number, request.issued_on, request.valid_until) == (
        data.certificate_number,
        data.issued_on,
        valid_until,
    )


def redeliver(
    *, db: Session, principal: Principal, request_id: str, now: datetime
) -> IssuanceRequest:
    """Queue a failed (or delivered) request's events again under their original webhook-ids."""
    request = get_for(db=db, principal=principal, request_id=request_id, lock=True)
    if principal.role == "department":
        raise Forbidden("Redelivery is for an admin or the centre that ran the session.")
    if request.status not in ("failed", "delivered"):
        raise Conflict(
            f"The request is {request.status}; only failed or delivered requests are redelivered."
        )
    events = db.scalars(
        sa.select(Delivery).where(
            Delivery.request_id == request.id, Delivery.status.in_(("failed", "delivered"))
        )
    ).all()
    delivery_service.requeue(db, events, now)
    db.flush()
    return request


def recover(*, db: Session, department: str, since: datetime, now: datetime) -> int:
    """Queue again every failed event of a department created since a moment."""
    events = db.scalars(
        sa.select(Delivery).where(
            Delivery.department_code == department,
            Delivery.status == "failed",
            Delivery.created_at >= since,
        )
    ).all()
    count = delivery_service.requeue(db, events, now)
    db.flush()
    return count
