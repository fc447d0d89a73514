"""Re-planning at once when a certificate of a person's record is revoked (docs/api.md §8).

Every registration of that person in a session that has not started (``scheduled``, before
``starts_at``) whose plan rested on the certificate (an exemption's basis, or the document that
opened a prerequisite, also through equivalences) is planned again without it, in the
revocation's transaction, and gets a ``replans`` entry: ``at``, what was revoked
(``certificate``, masked ``number``), ``why`` and each target's loss (``lost``: codes and
values; ``rules.describe_replan``). The API makes its ``reason`` in the reader's language with
``rules.replan_reason`` (entries written before keep their English ``reason``). Which
registrations
rest on it and what their new plan is, is the rules core's (``rules.replan_without``); this
module loads, locks and writes. Sessions already under way are left to finalisation, which
works every plan out again on the record as it stands (``finalisation._rechecks``).

Locks: the sessions concerned are locked (``FOR UPDATE``, in id order) before the certificate
row, the order a registration takes them in (its session, then the person's certificates
``FOR SHARE``): a registration deciding on the certificate at the same moment either sees it
revoked or is found here and re-planned.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import rules
from app.candidates.models import CandidateCertificate
from app.catalogue import service as catalogue_service
from app.rules.basis import documents
from app.sessions import service as sessions_service
from app.sessions.models import ExamSession, Registration
from app.sessions.states import RegistrationStatus, SessionStatus


def _not_started(candidate_id: str, now: datetime) -> sa.Select[Any]:
    return (
        sa.select(ExamSession.id)
        .join(Registration, Registration.session_id == ExamSession.id)
        .where(
            Registration.candidate_id == candidate_id,
            Registration.status == RegistrationStatus.REGISTERED,
            ExamSession.status == SessionStatus.SCHEDULED,
            ExamSession.starts_at > now,
        )
    )


def lock_open_sessions(db: Session, *, candidate_id: str, now: datetime) -> list[ExamSession]:
    """Lock (in id order) every session not yet started where the person is registered."""
    ids = sa.select(ExamSession.id).where(ExamSession.id.in_(_not_started(candidate_id, now)))
    stmt = sa.select(ExamSession).where(ExamSession.id.in_(ids)).order_by(ExamSession.id)
    locked = stmt.with_for_update().execution_options(populate_existing=True)  # read afresh
    return list(db.scalars(locked))


def after_revocation(
    db: Session, *, certificate: CandidateCertificate, why: str, now: datetime
) -> list[str]:
    """Re-plan the person's registrations in sessions not yet started that rested on the
    (just revoked) ``certificate``; the ids of those re-planned, in session order."""
    document = rules.Basis(certificate.certificate, certificate.number)
    replanned = []
    for session in lock_open_sessions(db, candidate_id=certificate.candidate_id, now=now):
        if sessions_service.has_started(session):
            continue  # it started while we waited for its lock: finalisation re-checks it
        catalogue = catalogue_service.load(db=db, version=session.catalogue_version)
        for registration in _registrations(db, session, certificate.candidate_id):
            if _replan(catalogue, registration, document, why, now):
                replanned.append(registration.id)
    db.flush()
    return replanned


def _registrations(db: Session, session: ExamSession, candidate_id: str) -> Sequence[Registration]:
    return db.scalars(
        sa.select(Registration).where(
            Registration.session_id == session.id,
            Registration.candidate_id == candidate_id,
            Registration.status == RegistrationStatus.REGISTERED,
        )
    ).all()


def _replan(
    catalogue: rules.Catalogue,
    registration: Registration,
    document: rules.Basis,
    why: str,
    now: datetime,
) -> bool:
    """Write the new plan if the registration's plan rested on ``document``."""
    replanned = rules.replan_without(
        catalogue,
        rules.plan_from_dict(registration.plan),
        documents(registration.held),
        registration.candidate.birth_date,
        document,
    )
    if replanned is None:
        return False
    plan = rules.plan_to_dict(replanned.plan)
    registration.plan = plan
    registration.required_sections = plan["required_sections"]
    registration.held = [h for h in registration.held if not _is(h, document)]
    entry = {"at": now.isoformat(), **rules.describe_replan(replanned, document, why)}
    registration.replans = [*(registration.replans or []), entry]
    return True


def _is(held: dict[str, Any], document: rules.Basis) -> bool:
    return (held.get("certificate"), held.get("number")) == (document.certificate, document.number)
