"""Finalisation, re-evaluation after an amendment, and outcomes (docs/api.md §8).

Finalisation locks the session row, loads every registration with its person and results,
asks the rules core (``rules.evaluate``) for each target's outcome, and writes the outcomes and
the issuance requests (with their outbox events) in the same transaction as the status change.
Its summary is counted from what it has just written. Outcome statuses and who moves them:
``app/results/states.py``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from app import rules
from app.audit import service as audit
from app.auth import Principal
from app.candidates.models import Candidate
from app.catalogue import service as catalogue_service
from app.crypto import Vault
from app.db import bulk_insert, new_id, utcnow
from app.errors import Conflict, ProblemItem
from app.issuance import service as issuance
from app.issuance.models import IssuanceRequest
from app.pagination import PageParams, fetch_page
from app.results.models import Outcome, Result
from app.results.schemas import FinaliseSummary
from app.results.states import OutcomeStatus
from app.schemas import as_json_number
from app.sessions import service as sessions_service
from app.sessions.models import ExamSession, Registration

MISSING_LISTED = 1000
SectionResults = dict[str, rules.SectionResult]


def section_results(rows: Iterable[Any]) -> dict[str, SectionResults]:
    """(registration id, section, score, passed) rows, by registration then section."""
    by_registration: dict[str, SectionResults] = defaultdict(dict)
    for reg_id, section, score, passed in rows:
        by_registration[reg_id][section] = rules.SectionResult(section, score, passed)
    return by_registration


def _results_where(db: Session, condition: Any) -> dict[str, SectionResults]:
    return section_results(
        db.execute(
            sa.select(Result.registration_id, Result.section, Result.score, Result.passed).where(
                condition
            )
        )
    )


def outcome_values(outcome: rules.Outcome) -> dict[str, Any]:
    """The stored columns of an outcome that evaluation decides."""
    return {
        "status": outcome.status,
        "failed_sections": [
            {
                "section": f.section,
                "score": None if f.score is None else as_json_number(f.score),
                "passed": f.passed,
                "pass_score": None if f.pass_score is None else as_json_number(f.pass_score),
                "missing": f.missing,
            }
            for f in outcome.failed_sections
        ],
        "exemptions": [rules.exemption_to_dict(e) for e in outcome.exemptions],
    }


def _sitter(row: Row[Any] | Registration) -> issuance.Sitter:
    if isinstance(row, Registration):
        person = row.candidate
        return issuance.Sitter(
            row.id, row.name, person.id, person.id_number_encrypted, person.birth_date
        )
    return issuance.Sitter(
        row.id, row.name, row.candidate_id, row.id_number_encrypted, row.birth_date
    )


def _sitters(db: Session, session_id: str) -> Sequence[Row[Any]]:
    return db.execute(
        sa.select(
            Registration.id,
            Registration.status,
            Registration.plan,
            Registration.name,
            Candidate.id.label("candidate_id"),
            Candidate.id_number_encrypted,
            Candidate.birth_date,
        )
        .join(Candidate, Candidate.id == Registration.candidate_id)
        .where(Registration.session_id == session_id)
    ).all()


def _refuse_missing(
    registrations: Sequence[Row[Any]],
    plans: dict[str, rules.Plan],
    results: dict[str, SectionResults],
) -> None:
    missing = [
        {"registration_id": r.id, "section": section}
        for r in registrations
        if r.status == "registered"
        for section in plans[r.id].required_sections
        if section not in results.get(r.id, {})
    ]
    if missing:
        raise Conflict(
            f"{len(missing)} result(s) are missing; the session cannot be finalised yet.",
            errors=[
                ProblemItem(
                    message=f"registration {m['registration_id']} has no result for {m['section']}"
                )
                for m in missing[:MISSING_LISTED]
            ],
            extra={"missing": missing[:MISSING_LISTED], "missing_count": len(missing)},
        )


def _evaluate_all(
    session: ExamSession,
    catalogue: rules.Catalogue,
    registrations: Sequence[Row[Any]],
    plans: dict[str, rules.Plan],
    results: dict[str, SectionResults],
    now: datetime,
) -> tuple[list[dict[str, Any]], list[issuance.Qualified]]:
    """Outcome rows for every (registration, target), and the qualified pairs to request."""
    outcome_rows: list[dict[str, Any]] = []
    qualified: list[issuance.Qualified] = []
    for registration in registrations:
        plan, mine = plans[registration.id], results.get(registration.id, {})
        outcomes = rules.evaluate(catalogue, plan, mine, absent=registration.status == "absent")
        sitter = _sitter(registration) if any(o.qualified for o in outcomes) else None
        for outcome in outcomes:
            outcome_rows.append(
                {
                    "id": new_id("out"),
                    "session_id": session.id,
                    "registration_id": registration.id,
                    "certificate": outcome.certificate,
                    "department_code": outcome.department,
                    "evaluated_at": now,
                    **outcome_values(outcome),
                }
            )
            if sitter is not None and outcome.qualified:
                qualified.append(issuance.Qualified(sitter, plan.target(outcome.certificate), mine))
    return outcome_rows, qualified


def finalise(
    *, db: Session, vault: Vault, session_id: str, principal: Principal, first_delay: float = 0.0
) -> FinaliseSummary:
    """Evaluate every registration and write outcomes and issuance requests (with their outbox
    events) in this one transaction. Again on a finalised session: the same summary, no writes."""
    session = sessions_service.get_for(db=db, session_id=session_id, principal=principal, lock=True)
    if session.status == "finalised":
        return summary(db, session)
    sessions_service.require_scheduled(session, "finalisation")
    registrations = _sitters(db, session.id)
    results = _results_where(db, Result.session_id == session.id)
    plans = {r.id: rules.plan_from_dict(r.plan) for r in registrations}
    _refuse_missing(registrations, plans, results)

    catalogue = catalogue_service.load(db=db, version=session.catalogue_version)
    now = utcnow()
    outcome_rows, qualified = _evaluate_all(session, catalogue, registrations, plans, results, now)
    request_ids = issuance.create_requests(
        db,
        vault,
        session=session,
        catalogue=catalogue,
        qualified=qualified,
        now=now,
        first_delay=first_delay,
    )
    for row in outcome_rows:
        row["issuance_request_id"] = request_ids.get((row["registration_id"], row["certificate"]))
    if outcome_rows:
        bulk_insert(db, Outcome, outcome_rows)
    session.status = "finalised"
    session.finalised_at = now
    db.flush()
    written = FinaliseSummary(
        status="finalised",
        registrations=len(registrations),
        qualified=sum(r["status"] == OutcomeStatus.QUALIFIED for r in outcome_rows),
        not_qualified=sum(r["status"] == OutcomeStatus.NOT_QUALIFIED for r in outcome_rows),
        absent=sum(r.status == "absent" for r in registrations),
        issuance_requests=len(request_ids),
    )
    audit.append(
        db,
        actor=principal.actor,
        action="session.finalised",
        subject=session.id,
        after=written.model_dump(),
    )
    return written


def summary(db: Session, session: ExamSession) -> FinaliseSummary:
    """The summary of a finalised session, counted from what is stored."""
    counts = dict(
        db.execute(
            sa.select(Outcome.status, sa.func.count())
            .where(Outcome.session_id == session.id)
            .group_by(Outcome.status)
        ).all()
    )
    registrations, absent = db.execute(
        sa.select(
            sa.func.count(),
            sa.func.count().filter(Registration.status == "absent"),
        ).where(Registration.session_id == session.id)
    ).one()
    requests = db.scalar(
        sa.select(sa.func.count()).where(
            IssuanceRequest.session_id == session.id, IssuanceRequest.status != "cancelled"
        )
    )
    return FinaliseSummary(
        status="finalised",
        registrations=registrations,
        qualified=counts.get(OutcomeStatus.QUALIFIED, 0),
        not_qualified=counts.get(OutcomeStatus.NOT_QUALIFIED, 0),
        absent=absent,
        issuance_requests=requests or 0,
    )


def _requests_of(
    db: Session, registration_id: str
) -> tuple[dict[str, IssuanceRequest], dict[str, int]]:
    """A registration's requests not cancelled, and the latest revision, by certificate."""
    requests = db.scalars(
        sa.select(IssuanceRequest).where(IssuanceRequest.registration_id == registration_id)
    ).all()
    revisions: dict[str, int] = defaultdict(int)
    for r in requests:
        revisions[r.certificate] = max(revisions[r.certificate], r.revision)
    return {r.certificate: r for r in requests if r.status != "cancelled"}, revisions


def reevaluate(
    db: Session,
    *,
    vault: Vault,
    session: ExamSession,
    registration: Registration,
    catalogue: rules.Catalogue,
    now: datetime,
    first_delay: float = 0.0,
) -> dict[str, list[str]]:
    """After an amendment on a finalised session: new requests for newly qualified
    certificates, cancellations for those no longer qualified; the others stay untouched."""
    plan = rules.plan_from_dict(registration.plan)
    mine = _results_where(db, Result.registration_id == registration.id).get(registration.id, {})
    outcome_rows = {
        o.certificate: o
        for o in db.scalars(sa.select(Outcome).where(Outcome.registration_id == registration.id))
    }
    active, revisions = _requests_of(db, registration.id)
    sitter = _sitter(registration)

    changes: dict[str, list[str]] = {"requested": [], "cancelled": []}
    for outcome in rules.evaluate(catalogue, plan, mine, absent=registration.status == "absent"):
        row = outcome_rows[outcome.certificate]
        for key, value in outcome_values(outcome).items():
            setattr(row, key, value)
        row.evaluated_at = now
        current = active.get(outcome.certificate)
        if outcome.qualified and current is None:
            new = issuance.Qualified(
                sitter,
                plan.target(outcome.certificate),
                mine,
                revision=revisions[outcome.certificate] + 1,
            )
            (request_id,) = issuance.create_requests(
                db,
                vault,
                session=session,
                catalogue=catalogue,
                qualified=[new],
                now=now,
                first_delay=first_delay,
            ).values()
            row.issuance_request_id = request_id
            changes["requested"].append(request_id)
        elif not outcome.qualified and current is not None:
            failed = ", ".join(f.section for f in outcome.failed_sections)
            issuance.cancel(
                db,
                vault,
                request=current,
                reason=f"no longer qualified after an amendment (failed: {failed})",
                now=now,
                first_delay=first_delay,
            )
            row.issuance_request_id = None
            changes["cancelled"].append(current.id)
    db.flush()
    return changes


def outcomes_for(
    *, db: Session, session_id: str, principal: Principal, page: PageParams
) -> tuple[Sequence[Outcome], str | None]:
    session = sessions_service.get_for(db=db, session_id=session_id, principal=principal)
    return fetch_page(
        db, sa.select(Outcome).where(Outcome.session_id == session.id), Outcome.id, page
    )


def outcomes_of(db: Session, registration_id: str) -> list[Outcome]:
    return list(
        db.scalars(
            sa.select(Outcome)
            .where(Outcome.registration_id == registration_id)
            .order_by(Outcome.certificate)
        )
    )
