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
from app.auth import Principal
from app.candidates.service import reveal_id_number
from app.crypto import Vault
from app.db import bulk_insert, new_id
from app.delivery import outbox
from app.delivery.models import Delivery, DeliveryAttempt
from app.errors import Forbidden, NotFound
from app.issuance import payload
from app.issuance.models import IssuanceRequest
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
            )
        )
        ids[(q.sitter.registration_id, certificate.code)] = request_id
    if requests:
        bulk_insert(db, IssuanceRequest, requests)
        outbox.add_events(db, events)
    return ids


def cancel(
    db: Session, vault: Vault, *, request: IssuanceRequest, reason: str, now: datetime
) -> None:
    """Withdraw a request. The department hears of it only if it was told of the request:

    - its ``issuance.requested`` was never delivered and is not in flight: that event is
      dropped, and nothing at all is sent;
    - it was delivered: an ``issuance.cancelled`` event is queued;
    - it is in flight right now: the ``issuance.cancelled`` event is queued *held*, and the
      worker releases it only if that attempt succeeds (or drops both if it fails).
    """
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
    request = db.scalars(stmt).first()
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
