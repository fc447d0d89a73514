"""The life of an issuance request: the only code that assigns ``IssuanceRequest.status``.

Transitions and who makes them: ``app/issuance/states.py``. Requests are created with their
``issuance.requested`` event (finalisation and re-evaluation call :func:`create_requests`),
cancelled with or without an ``issuance.cancelled`` event (:func:`cancel`), decided by their
department (:func:`decide`), and follow their events through :func:`events_settled`, which the
outbox calls in the transaction that settles them.

Entry points for other packages (results: finalisation and re-evaluation)::

    lifecycle.create_requests(db, outbox=outbox, session=..., catalogue=..., qualified=[...], now=now)
    lifecycle.cancel(db, outbox=outbox, request=request, reason="...", now=now)

``outbox`` is the app's :class:`~app.delivery.outbox.Outbox` (an endpoint takes it as
``outbox: OutboxDep``); it knows the first delay of the retry schedule, so callers never pass it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import rules
from app.candidates import service as candidates_service
from app.candidates.models import CandidateCertificate
from app.candidates.service import reveal_id_number
from app.config import Settings
from app.crypto import Vault
from app.db import bulk_insert, new_id, update_rows
from app.delivery.outbox import NewEvent, Outbox, Settled
from app.delivery.states import DeliveryStatus, EventType, Settlement
from app.issuance import payload
from app.issuance.models import IssuanceRequest
from app.issuance.states import RequestStatus
from app.rules.basis import documents
from app.sessions.models import ExamSession, Registration


def make_outbox(*, vault: Vault, settings: Settings) -> Outbox:
    """The app's outbox: first attempts after ``ONEEXAM_RETRY_SCHEDULE[0]``, settlements
    reported to :func:`events_settled`. Built once by ``create_app`` and ``oneexam worker``."""
    return Outbox(vault, first_delay=settings.retry_schedule[0], on_settled=events_settled)


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
    *,
    outbox: Outbox,
    session: ExamSession,
    catalogue: rules.Catalogue,
    qualified: Sequence[Qualified],
    now: datetime,
) -> dict[tuple[str, str], str]:
    """One ``pending`` request and its ``issuance.requested`` event per qualified pair, inserted
    in bulk. Returns the request id for each (registration id, certificate)."""
    session_data = payload.session_data(session)
    held = _held_documents(db, [q.sitter.registration_id for q in qualified])
    requests, events, ids = [], [], {}
    for q in qualified:
        certificate = catalogue.certificates[q.target.certificate]
        request_id = new_id("ir")
        data = payload.requested_data(
            request_id=request_id,
            catalogue=catalogue,
            certificate_code=certificate.code,
            target=q.target,
            results=q.results,
            candidate=_candidate(outbox.vault, q.sitter),
            session=session_data,
            held=held.get(q.sitter.registration_id, []),
            on=session.exam_date,
        )
        requests.append(_request_values(request_id, session, q, certificate, now))
        body = payload.event_body(EventType.REQUESTED, now, data)
        events.append(NewEvent(request_id, certificate.department, EventType.REQUESTED, body))
        ids[(q.sitter.registration_id, certificate.code)] = request_id
    if requests:
        bulk_insert(db, IssuanceRequest, requests)
        outbox.enqueue(db, events, now=now)
    return ids


def _held_documents(
    db: Session, registration_ids: Sequence[str]
) -> dict[str, list[rules.HeldCertificate]]:
    """The documents each registration's plan was made from (declared and verified), without
    any the person's record shows revoked since: the webhook never names one as a basis."""
    if not registration_ids:
        return {}
    wanted = set(registration_ids)
    rows = db.execute(
        sa.select(Registration.id, Registration.held).where(Registration.id.in_(wanted))
    )
    revoked: set[tuple[str, str, str]] = {
        (reg_id, certificate, number)
        for reg_id, certificate, number in db.execute(
            sa.select(
                Registration.id, CandidateCertificate.certificate, CandidateCertificate.number
            )
            .join(
                CandidateCertificate, CandidateCertificate.candidate_id == Registration.candidate_id
            )
            .where(Registration.id.in_(wanted), CandidateCertificate.revoked_at.is_not(None))
        )
    }
    return {
        r.id: [d for d in documents(r.held or []) if (r.id, d.certificate, d.number) not in revoked]
        for r in rows
    }


def _candidate(vault: Vault, sitter: Sitter) -> dict[str, Any]:
    return {
        "id_number": reveal_id_number(vault, sitter.id_number_encrypted),
        "name": sitter.name,
        "birth_date": sitter.birth_date.isoformat(),
    }


def _request_values(
    request_id: str,
    session: ExamSession,
    q: Qualified,
    certificate: rules.Certificate,
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": request_id,
        "session_id": session.id,
        "registration_id": q.sitter.registration_id,
        "candidate_id": q.sitter.candidate_id,
        "certificate": certificate.code,
        "department_code": certificate.department,
        "revision": q.revision,
        "status": RequestStatus.PENDING,
        "created_at": now,
        "updated_at": now,
    }


def cancel(
    db: Session, *, outbox: Outbox, request: IssuanceRequest, reason: str, now: datetime
) -> bool:
    """Withdraw a request; False (and nothing changes, nothing is sent) if the department had
    already rejected it. Otherwise the department hears of it only if it was told of it:

    - its ``issuance.requested`` was never delivered and is not in flight: that event is
      dropped, and nothing at all is sent;
    - it was delivered: an ``issuance.cancelled`` event is queued;
    - it is in flight right now: the ``issuance.cancelled`` event is queued *held*, and
      :func:`events_settled` releases it only if that attempt succeeds (or drops it if the
      request fails for good).
    """
    if request.status == RequestStatus.REJECTED:
        return False
    if request.status == RequestStatus.ISSUED:
        candidates_service.revoke_certificate(db=db, request_id=request.id, now=now)
    request.status = RequestStatus.CANCELLED
    request.cancelled_at = now
    request.cancel_reason = reason
    request.updated_at = now
    requested = outbox.state_of(db, subject_id=request.id, event_type=EventType.REQUESTED, now=now)
    if requested is None:
        return True
    waiting = requested.status in (DeliveryStatus.PENDING, DeliveryStatus.FAILED)
    if requested.status != DeliveryStatus.DELIVERED and not (waiting and requested.in_flight):
        outbox.drop(db, subject_id=request.id, event_type=EventType.REQUESTED, now=now)
        db.flush()
        return True
    body = payload.event_body(
        EventType.CANCELLED, now, payload.cancelled_data(request_id=request.id, reason=reason)
    )
    event = NewEvent(request.id, request.department_code, EventType.CANCELLED, body)
    outbox.enqueue(db, [event], now=now, held=requested.status != DeliveryStatus.DELIVERED)
    db.flush()
    return True


def decide(
    db: Session,
    *,
    outbox: Outbox,
    request: IssuanceRequest,
    decision: str,
    actor: str,
    now: datetime,
) -> None:
    """The department's decision becomes the request's status. A pull-only department that
    decided before any push leaves nothing to deliver: an idle ``issuance.requested`` is
    dropped."""
    request.decision = decision
    request.decided_at = now
    request.decided_by = actor
    request.status = RequestStatus(decision)
    request.updated_at = now
    outbox.drop(
        db,
        subject_id=request.id,
        event_type=EventType.REQUESTED,
        now=now,
        reason="decided before it was delivered",
        only_if_idle=True,
    )


_FOLLOWS: dict[Settlement, tuple[RequestStatus, tuple[RequestStatus, ...]]] = {
    Settlement.DELIVERED: (
        RequestStatus.DELIVERED,
        (RequestStatus.PENDING, RequestStatus.FAILED, RequestStatus.DELIVERED),
    ),
    Settlement.FAILED: (
        RequestStatus.FAILED,
        (RequestStatus.PENDING, RequestStatus.FAILED, RequestStatus.DELIVERED),
    ),
    Settlement.REQUEUED: (
        RequestStatus.PENDING,
        (RequestStatus.FAILED, RequestStatus.DELIVERED),
    ),
}
"""settlement of an ``issuance.requested`` event → (new request status, from which statuses)."""


def events_settled(db: Session, outbox: Outbox, settled: Sequence[Settled], now: datetime) -> None:
    """The outbox's report (its ``on_settled`` hook): requests follow their
    ``issuance.requested`` event, and a cancellation held behind it is released if the
    department was told, dropped if the request failed for good. A request already decided or
    cancelled keeps its status."""
    for settlement, (status, sources) in _FOLLOWS.items():
        ids = [
            s.subject_id
            for s in settled
            if s.event_type == EventType.REQUESTED and s.settlement == settlement
        ]
        if not ids:
            continue
        update_rows(  # the recorder calls this for every batch: a Core update
            db,
            IssuanceRequest,
            where={"id": ids, "status": sources},
            values={"status": status, "updated_at": now},
        )
        if settlement == Settlement.DELIVERED:
            outbox.release_held(db, ids, now=now)
        elif settlement == Settlement.FAILED:
            outbox.drop_held(db, ids, now=now)
