"""Results recorded once, amendments beside them, finalisation, re-evaluation and outcomes.

Every operation here locks its session row first (``FOR UPDATE`` on PostgreSQL; SQLite's
writing transactions are exclusive already): result batches, amendments, absences and
finalisation of one session are decided one at a time, so "recorded once" and "finalised once"
hold under any concurrency. The audit entry is appended last, to hold the chain's lock briefly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import rules
from app.audit import service as audit
from app.auth import Principal
from app.candidates.models import Candidate
from app.catalogue import service as catalogue_service
from app.crypto import Vault
from app.db import bulk_insert, new_id, utcnow
from app.errors import Conflict, NotFound, ProblemItem, Unprocessable
from app.issuance import service as issuance
from app.issuance.models import IssuanceRequest
from app.pagination import PageParams, fetch_page
from app.results.models import Outcome, Result, ResultAmendment
from app.results.schemas import AmendmentIn, FinaliseSummary, RecordSummary, ResultIn
from app.schemas import as_json_number
from app.sessions import registrations as registrations_service
from app.sessions import service as sessions_service
from app.sessions.models import ExamSession, Registration

MISSING_LISTED = 1000


def _value(score: Decimal | None, passed: bool | None) -> Any:
    return as_json_number(score) if score is not None else passed


def record(
    *,
    db: Session,
    session_id: str,
    principal: Principal,
    rows: Sequence[ResultIn],
    dry_run: bool = False,
) -> RecordSummary:
    """Record a batch, all or nothing. Invalid rows: 422 listing each; rows contradicting a
    stored result: 409 listing each; identical re-sends count as unchanged."""
    session = sessions_service.get_for(db=db, session_id=session_id, principal=principal, lock=True)
    sessions_service.require_scheduled(session, "recording results")
    catalogue = catalogue_service.load(db=db, version=session.catalogue_version)
    wanted = list({r.registration_id for r in rows})
    registrations = {
        reg_id: (status, set(required))
        for reg_id, status, required in db.execute(
            sa.select(Registration.id, Registration.status, Registration.required_sections).where(
                Registration.session_id == session.id, Registration.id.in_(wanted)
            )
        )
    }
    stored = {
        (reg_id, section): (score, passed)
        for reg_id, section, score, passed in db.execute(
            sa.select(
                Result.registration_id,
                Result.section,
                Result.original_score,
                Result.original_passed,
            ).where(Result.registration_id.in_(wanted))
        )
    }

    invalid: list[ProblemItem] = []
    conflicts: list[ProblemItem] = []
    new: list[ResultIn] = []
    seen: set[tuple[str, str]] = set()
    unchanged = 0
    for k, row in enumerate(rows):
        at = f"/results/{k}"
        key = (row.registration_id, row.section)
        registration = registrations.get(row.registration_id)
        if registration is None:
            invalid.append(
                ProblemItem(
                    pointer=f"{at}/registration_id", message="no such registration in this session"
                )
            )
            continue
        status, required = registration
        if status == "absent":
            invalid.append(
                ProblemItem(
                    pointer=f"{at}/registration_id", message="the candidate is marked absent"
                )
            )
            continue
        if row.section not in required:
            invalid.append(
                ProblemItem(
                    pointer=f"{at}/section", message=f"this registration does not sit {row.section}"
                )
            )
            continue
        problem = rules.result_problem(catalogue.sections[row.section], row.score, row.passed)
        if problem is not None:
            invalid.append(ProblemItem(pointer=f"{at}/{problem[0]}", message=problem[1]))
            continue
        if key in seen:
            invalid.append(
                ProblemItem(
                    pointer=at, message="this registration and section appear twice in the batch"
                )
            )
            continue
        seen.add(key)
        if key in stored:
            if stored[key] == (row.score, row.passed):
                unchanged += 1
            else:
                was = _value(*stored[key])
                conflicts.append(
                    ProblemItem(
                        pointer=at,
                        message=f"contradicts the result recorded for {row.section} ({was}); amend it instead",
                    )
                )
            continue
        new.append(row)

    if invalid:
        raise Unprocessable(
            f"{len(invalid)} row(s) are not valid; nothing was recorded.", errors=invalid
        )
    if conflicts:
        raise Conflict(
            f"{len(conflicts)} row(s) contradict recorded results; nothing was recorded.",
            errors=conflicts,
        )
    if new and not dry_run:
        now = utcnow()
        bulk_insert(
            db,
            Result,
            [
                {
                    "id": new_id("res"),
                    "session_id": session.id,
                    "registration_id": r.registration_id,
                    "section": r.section,
                    "score": r.score,
                    "passed": r.passed,
                    "original_score": r.score,
                    "original_passed": r.passed,
                    "recorded_at": now,
                    "recorded_by": principal.actor,
                    "amendments_count": 0,
                }
                for r in new
            ],
        )
        audit.append(
            db,
            actor=principal.actor,
            action="results.recorded",
            subject=session.id,
            after=[[r.registration_id, r.section, _value(r.score, r.passed)] for r in new],
        )
    return RecordSummary(created=len(new), unchanged=unchanged)


def amend(
    *,
    db: Session,
    vault: Vault,
    registration_id: str,
    section: str,
    principal: Principal,
    data: AmendmentIn,
    first_delay: float = 0.0,
) -> ResultAmendment:
    registration, session = registrations_service.get_for(
        db=db, registration_id=registration_id, principal=principal, lock_session=True
    )
    if session.status == "cancelled":
        raise Conflict("The session is cancelled; its results cannot be amended.")
    result = db.scalars(
        sa.select(Result).where(
            Result.registration_id == registration.id, Result.section == section
        )
    ).first()
    if result is None:
        if section in registration.required_sections:
            raise Conflict(f"No result is recorded for {section} yet; record it first.")
        raise NotFound(f"The registration does not sit {section}.")
    catalogue = catalogue_service.load(db=db, version=session.catalogue_version)
    problem = rules.result_problem(catalogue.sections[section], data.score, data.passed)
    if problem is not None:
        raise Unprocessable(
            "The amendment does not fit the section.",
            errors=[ProblemItem(pointer=f"/{problem[0]}", message=problem[1])],
        )
    if (data.score, data.passed) == (result.score, result.passed):
        raise Unprocessable(
            "The amendment changes nothing.",
            errors=[
                ProblemItem(
                    pointer="/score" if data.score is not None else "/passed",
                    message="equals the current value",
                )
            ],
        )
    now = utcnow()
    amendment = ResultAmendment(
        id=new_id("amd"),
        result_id=result.id,
        score=data.score,
        passed=data.passed,
        previous_score=result.score,
        previous_passed=result.passed,
        reason=data.reason,
        amended_at=now,
        amended_by=principal.actor,
    )
    db.add(amendment)
    before = _value(result.score, result.passed)
    result.score, result.passed = data.score, data.passed
    result.amendments_count += 1
    db.flush()
    after: dict[str, Any] = {"value": _value(data.score, data.passed), "reason": data.reason}
    if session.status == "finalised":
        after["reevaluation"] = reevaluate(
            db,
            vault,
            session=session,
            registration=registration,
            catalogue=catalogue,
            now=now,
            first_delay=first_delay,
        )
    audit.append(
        db,
        actor=principal.actor,
        action="result.amended",
        subject=f"{registration.id}/{section}",
        before=before,
        after=after,
    )
    return amendment


def _section_results(rows: Any) -> dict[str, dict[str, rules.SectionResult]]:
    by_registration: dict[str, dict[str, rules.SectionResult]] = defaultdict(dict)
    for reg_id, section, score, passed in rows:
        by_registration[reg_id][section] = rules.SectionResult(section, score, passed)
    return by_registration


def _outcome_values(outcome: rules.Outcome) -> dict[str, Any]:
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


def finalise(
    *, db: Session, vault: Vault, session_id: str, principal: Principal, first_delay: float = 0.0
) -> FinaliseSummary:
    """Evaluate every registration and write outcomes and issuance requests (with their outbox
    events) in this one transaction. Again on a finalised session: the same summary, no writes."""
    session = sessions_service.get_for(db=db, session_id=session_id, principal=principal, lock=True)
    if session.status == "finalised":
        return summary(db, session)
    sessions_service.require_scheduled(session, "finalisation")
    registrations = db.execute(
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
        .where(Registration.session_id == session.id)
    ).all()
    results = _section_results(
        db.execute(
            sa.select(Result.registration_id, Result.section, Result.score, Result.passed).where(
                Result.session_id == session.id
            )
        )
    )
    plans = {r.id: rules.plan_from_dict(r.plan) for r in registrations}
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

    catalogue = catalogue_service.load(db=db, version=session.catalogue_version)
    now = utcnow()
    outcome_rows: list[dict[str, Any]] = []
    qualified: list[issuance.Qualified] = []
    for registration in registrations:
        plan = plans[registration.id]
        mine = results.get(registration.id, {})
        for outcome in rules.evaluate(
            catalogue, plan, mine, absent=registration.status == "absent"
        ):
            outcome_rows.append(
                {
                    "id": new_id("out"),
                    "session_id": session.id,
                    "registration_id": registration.id,
                    "certificate": outcome.certificate,
                    "department_code": outcome.department,
                    "evaluated_at": now,
                    **_outcome_values(outcome),
                }
            )
            if outcome.qualified:
                sitter = issuance.Sitter(
                    registration.id,
                    registration.name,
                    registration.candidate_id,
                    registration.id_number_encrypted,
                    registration.birth_date,
                )
                qualified.append(issuance.Qualified(sitter, plan.target(outcome.certificate), mine))
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
    result = summary(db, session)
    audit.append(
        db,
        actor=principal.actor,
        action="session.finalised",
        subject=session.id,
        after=result.model_dump(),
    )
    return result


def summary(db: Session, session: ExamSession) -> FinaliseSummary:
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
        qualified=counts.get("qualified", 0),
        not_qualified=counts.get("not_qualified", 0),
        absent=absent,
        issuance_requests=requests or 0,
    )


def reevaluate(
    db: Session,
    vault: Vault,
    *,
    session: ExamSession,
    registration: Registration,
    catalogue: rules.Catalogue,
    now: datetime,
    first_delay: float = 0.0,
) -> dict[str, list[str]]:
    """After an amendment on a finalised session: new requests for newly qualified
    certificates, cancellations for those no longer qualified; the others stay untouched."""
    plan = rules.plan_from_dict(registration.plan)
    mine = _section_results(
        db.execute(
            sa.select(Result.registration_id, Result.section, Result.score, Result.passed).where(
                Result.registration_id == registration.id
            )
        )
    ).get(registration.id, {})
    outcome_rows = {
        o.certificate: o
        for o in db.scalars(sa.select(Outcome).where(Outcome.registration_id == registration.id))
    }
    requests = db.scalars(
        sa.select(IssuanceRequest).where(IssuanceRequest.registration_id == registration.id)
    ).all()
    active = {r.certificate: r for r in requests if r.status != "cancelled"}
    revisions: dict[str, int] = defaultdict(int)
    for r in requests:
        revisions[r.certificate] = max(revisions[r.certificate], r.revision)

    changes: dict[str, list[str]] = {"requested": [], "cancelled": []}
    for outcome in rules.evaluate(catalogue, plan, mine, absent=registration.status == "absent"):
        row = outcome_rows[outcome.certificate]
        for key, value in _outcome_values(outcome).items():
            setattr(row, key, value)
        row.evaluated_at = now
        current = active.get(outcome.certificate)
        if outcome.qualified and current is None:
            person = registration.candidate
            sitter = issuance.Sitter(
                registration.id,
                registration.name,
                person.id,
                person.id_number_encrypted,
                person.birth_date,
            )
            new = issuance.Qualified(
                sitter,
                plan.target(outcome.certificate),
                mine,
                revision=revisions[outcome.certificate] + 1,
            )
            ids = issuance.create_requests(
                db,
                vault,
                session=session,
                catalogue=catalogue,
                qualified=[new],
                now=now,
                first_delay=first_delay,
            )
            row.issuance_request_id = ids[(registration.id, outcome.certificate)]
            changes["requested"].append(row.issuance_request_id)
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


def results_of(
    db: Session, registration_id: str
) -> tuple[list[Result], dict[str, list[ResultAmendment]]]:
    results = list(
        db.scalars(
            sa.select(Result)
            .where(Result.registration_id == registration_id)
            .order_by(Result.section)
        )
    )
    amendments: dict[str, list[ResultAmendment]] = defaultdict(list)
    if results:
        for a in db.scalars(
            sa.select(ResultAmendment)
            .where(ResultAmendment.result_id.in_([r.id for r in results]))
            .order_by(ResultAmendment.amended_at, ResultAmendment.id)
        ):
            amendments[a.result_id].append(a)
    return results, amendments


def outcomes_of(db: Session, registration_id: str) -> list[Outcome]:
    return list(
        db.scalars(
            sa.select(Outcome)
            .where(Outcome.registration_id == registration_id)
            .order_by(Outcome.certificate)
        )
    )
