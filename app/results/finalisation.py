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
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from app import rules
from app.audit import service as audit
from app.auth import Principal
from app.candidates import service as candidates_service
from app.candidates.models import Candidate
from app.catalogue import service as catalogue_service
from app.db import bulk_insert, new_id, utcnow
from app.delivery.outbox import Outbox
from app.errors import Conflict, ProblemItem, Unprocessable
from app.i18n import _
from app.i18n.words import session_status
from app.issuance import lifecycle as issuance
from app.issuance.models import IssuanceRequest
from app.issuance.states import RequestStatus
from app.pagination import PageParams, fetch_page
from app.results.models import CertificateRelease, Outcome, Result, SectionAbsence
from app.results.schemas import FinaliseSummary
from app.results.states import OutcomeStatus
from app.rules.basis import documents
from app.schemas import as_json_number
from app.sessions import claims, replanning
from app.sessions import service as sessions_service
from app.sessions.models import ExamSession, Registration
from app.sessions.states import RELEASING, RegistrationStatus, SessionStatus

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
                "code": f.code,
            }
            for f in outcome.failed_sections
        ],
        "exemptions": [rules.exemption_to_dict(e) for e in outcome.exemptions],
        "reasons": [r.to_dict() for r in outcome.reasons],
        "carried": [rules.carried_to_dict(c) for c in outcome.carried],
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
            Registration.held,
            Candidate.id.label("candidate_id"),
            Candidate.id_number_encrypted,
            Candidate.birth_date,
        )
        .join(Candidate, Candidate.id == Registration.candidate_id)
        .where(
            Registration.session_id == session_id,
            Registration.status != RegistrationStatus.WITHDRAWN,  # not evaluated
        )
    ).all()


def absences_where(db: Session, *, condition: Any) -> dict[str, frozenset[str]]:
    """The sections each registration was marked absent from."""
    by_registration: dict[str, set[str]] = defaultdict(set)
    for reg_id, section in db.execute(
        sa.select(SectionAbsence.registration_id, SectionAbsence.section).where(condition)
    ):
        by_registration[reg_id].add(section)
    return {k: frozenset(v) for k, v in by_registration.items()}


def released_certificates(db: Session, *, session_id: str) -> set[str]:
    return set(
        db.scalars(
            sa.select(CertificateRelease.certificate).where(
                CertificateRelease.session_id == session_id
            )
        )
    )


@dataclass(frozen=True)
class Release:
    """What a release of some certificates of a session works on, loaded once."""

    session: ExamSession
    catalogue: rules.Catalogue
    certificates: frozenset[str]
    registrations: Sequence[Row[Any]]
    plans: dict[str, rules.Plan]
    results: dict[str, SectionResults]
    absences: dict[str, frozenset[str]]
    rechecks: dict[str, rules.Recheck]
    now: datetime


def _refuse_missing(release: Release) -> None:
    missing = [
        {"registration_id": r.id, "section": section}
        for r in release.registrations
        if r.status == RegistrationStatus.REGISTERED
        for section in rules.missing_results(
            release.plans[r.id],
            release.results.get(r.id, {}),
            absent_from=release.absences.get(r.id, frozenset()),
            certificates=release.certificates,
        )
    ]
    if missing:
        raise Conflict(
            _(
                "%(count)s result(s) are missing; the certificates cannot be finalised yet.",
                count=len(missing),
            ),
            errors=[
                ProblemItem(
                    message=_(
                        "registration %(registration_id)s has no result for %(section)s",
                        registration_id=m["registration_id"],
                        section=m["section"],
                    )
                )
                for m in missing[:MISSING_LISTED]
            ],
            extra={"missing": missing[:MISSING_LISTED], "missing_count": len(missing)},
        )


def _outcome_row(release: Release, registration_id: str, outcome: rules.Outcome) -> dict[str, Any]:
    return {
        "id": new_id("out"),
        "session_id": release.session.id,
        "registration_id": registration_id,
        "certificate": outcome.certificate,
        "department_code": outcome.department,
        "evaluated_at": release.now,
        **outcome_values(outcome),
    }


def _pending_row(release: Release, registration_id: str, certificate: str) -> dict[str, Any]:
    return {
        "id": new_id("out"),
        "session_id": release.session.id,
        "registration_id": registration_id,
        "certificate": certificate,
        "department_code": release.catalogue.certificates[certificate].department,
        "evaluated_at": release.now,
        "status": OutcomeStatus.PENDING,
        "failed_sections": [],
        "exemptions": [],
        "reasons": [],
        "carried": [],
        "issuance_request_id": None,
    }


def _evaluate_all(release: Release) -> tuple[list[dict[str, Any]], list[issuance.Qualified]]:
    """Outcome rows for every (registration, target) released, and the qualified pairs."""
    outcome_rows: list[dict[str, Any]] = []
    qualified: list[issuance.Qualified] = []
    for registration in release.registrations:
        plan, mine = release.plans[registration.id], release.results.get(registration.id, {})
        outcomes = rules.evaluate(
            release.catalogue,
            plan,
            mine,
            absent=registration.status == RegistrationStatus.ABSENT,
            absent_from=release.absences.get(registration.id, frozenset()),
            certificates=release.certificates,
            again=release.rechecks.get(registration.id),
        )
        sitter = _sitter(registration) if any(o.qualified for o in outcomes) else None
        for outcome in outcomes:
            outcome_rows.append(_outcome_row(release, registration.id, outcome))
            if sitter is not None and outcome.qualified:
                code = outcome.certificate
                results = rules.target_results(plan, code, mine)
                # the exemptions as they stand now (a basis may have been replaced at recheck)
                target = replace(plan.target(code), exemptions=outcome.exemptions)
                qualified.append(issuance.Qualified(sitter, target, results))
    return outcome_rows, qualified


def _write_outcomes(db: Session, release: Release, rows: list[dict[str, Any]]) -> None:
    """Released rows replace the pending ones; targets still to release get a pending row."""
    existing = {
        (o.registration_id, o.certificate): o
        for o in db.scalars(sa.select(Outcome).where(Outcome.session_id == release.session.id))
    }
    fresh = []
    for row in rows:
        pending = existing.get((row["registration_id"], row["certificate"]))
        if pending is None:
            fresh.append(row)
            continue
        for key, value in row.items():
            if key != "id":
                setattr(pending, key, value)
    fresh += [
        _pending_row(release, r.id, t.certificate)
        for r in release.registrations
        for t in release.plans[r.id].targets
        if t.certificate not in release.certificates and (r.id, t.certificate) not in existing
    ]
    if fresh:
        bulk_insert(db, Outcome, fresh)


def _load_release(db: Session, session: ExamSession, certificates: frozenset[str]) -> Release:
    registrations = _sitters(db, session.id)
    catalogue = catalogue_service.load(db=db, version=session.catalogue_version)
    plans = {r.id: rules.plan_from_dict(r.plan) for r in registrations}
    return Release(
        session=session,
        catalogue=catalogue,
        certificates=certificates,
        registrations=registrations,
        plans=plans,
        results=_results_where(db, Result.session_id == session.id),
        absences=absences_where(db, condition=SectionAbsence.session_id == session.id),
        rechecks=_rechecks(db, session, catalogue, registrations, plans),
        now=utcnow(),
    )


def _rechecks(
    db: Session,
    session: ExamSession,
    catalogue: rules.Catalogue,
    registrations: Sequence[Row[Any]],
    plans: dict[str, rules.Plan],
) -> dict[str, rules.Recheck]:
    """Each plan worked out again on the person's certificates as they stand now (a verified
    certificate may have been revoked since registration), compared with the registered one."""
    verified = candidates_service.verified_held(
        db=db, candidate_ids=[r.candidate_id for r in registrations]
    )
    out = {}
    for r in registrations:
        declared = [h for h in documents(r.held) if not h.verified]
        held = rules.with_record(declared, verified.get(r.candidate_id, []))
        plan = plans[r.id]
        targets = [t.certificate for t in plan.targets]
        current = rules.plan(catalogue, targets, held, r.birth_date, session.exam_date)
        out[r.id] = rules.recheck(plan, current)
    return out


def _wanted(session: ExamSession, certificates: Sequence[str] | None) -> list[str]:
    if certificates is None:
        return list(session.certificates)
    unknown = [
        ProblemItem(
            pointer=f"/certificates/{k}",
            message=_("the session does not offer %(code)s", code=code),
        )
        for k, code in enumerate(certificates)
        if code not in session.certificates
    ]
    if unknown:
        raise Unprocessable(
            _("The session does not offer every certificate named."), errors=unknown
        )
    return list(dict.fromkeys(certificates))


def finalise(
    *,
    db: Session,
    outbox: Outbox,
    session_id: str,
    principal: Principal,
    certificates: Sequence[str] | None = None,
) -> FinaliseSummary:
    """Release some (default: all) certificates of a session: evaluate their sitters and write
    outcomes and issuance requests (with their outbox events) in this one transaction.
    Certificates already released are not evaluated again: the same summary, no writes."""
    session = sessions_service.get_for(db=db, session_id=session_id, principal=principal, lock=True)
    wanted = _wanted(session, certificates)
    released = released_certificates(db, session_id=session.id)
    to_release = frozenset(wanted) - released
    if not to_release:
        return summary(db, session=session, certificates=wanted)
    require_open(session, _("finalisation"))
    release = _load_release(db, session, to_release)
    _refuse_missing(release)
    outcome_rows, qualified = _evaluate_all(release)
    request_ids = issuance.create_requests(
        db,
        outbox=outbox,
        session=session,
        catalogue=release.catalogue,
        qualified=qualified,
        now=release.now,
    )
    for row in outcome_rows:
        row["issuance_request_id"] = request_ids.get((row["registration_id"], row["certificate"]))
    _write_outcomes(db, release, outcome_rows)
    _mark_released(db, release, principal, released | to_release)
    written = _tally(
        session, wanted, outcome_rows + _stored_tally_rows(db, session, wanted, released)
    )
    audit.append(
        db,
        actor=principal.actor,
        action="session.finalised"
        if session.status == SessionStatus.FINALISED
        else "session.released",
        subject=session.id,
        after={**written.model_dump(), "released": sorted(to_release)},
    )
    return written


def _mark_released(
    db: Session, release: Release, principal: Principal, all_released: set[str]
) -> None:
    session = release.session
    db.add_all(
        CertificateRelease(
            session_id=session.id,
            certificate=code,
            released_at=release.now,
            released_by=principal.actor,
        )
        for code in sorted(release.certificates)
    )
    # A released certificate is no longer open here: its sitters may register for it elsewhere.
    claims.release(db, session_id=session.id, certificates=release.certificates)
    if all_released >= set(session.certificates):
        session.status = SessionStatus.FINALISED
        session.finalised_at = release.now
    else:
        session.status = SessionStatus.PARTIALLY_FINALISED
    db.flush()


def require_open(session: ExamSession, doing: str) -> None:
    """Results, absences and releases are taken from ``starts_at`` on, until every certificate
    is released."""
    if session.status not in RELEASING:
        raise Conflict(
            _(
                "The session is %(status)s; %(doing)s is possible only while it is scheduled or partially finalised.",
                status=session_status(session.status),
                doing=doing,
            )
        )
    sessions_service.require_started(session, doing)


def _stored_tally_rows(
    db: Session, session: ExamSession, certificates: Sequence[str], released: set[str]
) -> list[dict[str, Any]]:
    """The outcomes already written for those of ``certificates`` released before."""
    earlier = [c for c in certificates if c in released]
    if not earlier:
        return []
    rows = db.execute(
        sa.select(Outcome.registration_id, Outcome.status, Outcome.issuance_request_id).where(
            Outcome.session_id == session.id, Outcome.certificate.in_(earlier)
        )
    )
    return [
        {"registration_id": r, "status": status, "issuance_request_id": request}
        for r, status, request in rows
    ]


def _tally(
    session: ExamSession, certificates: Sequence[str], rows: Iterable[dict[str, Any]]
) -> FinaliseSummary:
    """The summary of a release, counted from its outcome rows."""
    rows = list(rows)
    statuses = [r["status"] for r in rows]
    return FinaliseSummary(
        status=SessionStatus.FINALISED
        if session.status == SessionStatus.FINALISED
        else SessionStatus.PARTIALLY_FINALISED,
        certificates=list(certificates),
        registrations=len({r["registration_id"] for r in rows}),
        qualified=statuses.count(OutcomeStatus.QUALIFIED),
        not_qualified=statuses.count(OutcomeStatus.NOT_QUALIFIED),
        not_eligible=statuses.count(OutcomeStatus.NOT_ELIGIBLE),
        absent=len({r["registration_id"] for r in rows if r["status"] == OutcomeStatus.ABSENT}),
        issuance_requests=sum(r["issuance_request_id"] is not None for r in rows),
    )


def summary(db: Session, *, session: ExamSession, certificates: Sequence[str]) -> FinaliseSummary:
    """The summary of certificates already released, counted from what is stored."""
    return _tally(
        session, certificates, _stored_tally_rows(db, session, certificates, set(certificates))
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
    return {r.certificate: r for r in requests if r.status != RequestStatus.CANCELLED}, revisions


def _evaluate_released(
    db: Session,
    session: ExamSession,
    registration: Registration,
    plan: rules.Plan,
    catalogue: rules.Catalogue,
    mine: SectionResults,
    stored: Iterable[Outcome],
) -> tuple[rules.Outcome, ...]:
    absent_from = absences_where(db, condition=SectionAbsence.registration_id == registration.id)
    return rules.evaluate(
        catalogue,
        plan,
        mine,
        absent=registration.status == RegistrationStatus.ABSENT,
        absent_from=absent_from.get(registration.id, frozenset()),
        certificates=released_certificates(db, session_id=session.id),
        again=stored_recheck(stored),
    )


def stored_recheck(outcomes: Iterable[Outcome]) -> rules.Recheck:
    """What finalisation found when it worked the plan out again, as its outcomes keep it."""
    not_eligible = {
        o.certificate: tuple(rules.Reason.from_stored(r) for r in o.reasons or ())
        for o in outcomes
        if o.status == OutcomeStatus.NOT_ELIGIBLE
    }
    withdrawn = {
        o.certificate: frozenset(
            f["section"]
            for f in o.failed_sections
            if f.get("code") == rules.ReasonCode.EXEMPTION_WITHDRAWN
        )
        for o in outcomes
    }
    return rules.Recheck(not_eligible, {k: v for k, v in withdrawn.items() if v})


def _cancel(
    db: Session, outbox: Outbox, request: IssuanceRequest, reason: str, now: datetime
) -> bool:
    """Cancel a request no longer qualified (False: the department had rejected it, and it is
    left as it is). An issued one takes its certificate with it: the registrations of later
    sessions, not yet started, that rested on that certificate are re-planned at once."""
    issued = request.status == RequestStatus.ISSUED
    if not issuance.cancel(db, outbox=outbox, request=request, reason=reason, now=now):
        return False
    certificate = candidates_service.certificate_for_request(db=db, request_id=request.id)
    if issued and certificate is not None:
        db.flush()
        replanning.after_revocation(db, certificate=certificate, why=reason, now=now)
    return True


def reevaluate(
    db: Session,
    *,
    outbox: Outbox,
    session: ExamSession,
    registration: Registration,
    catalogue: rules.Catalogue,
    now: datetime,
) -> dict[str, list[str]]:
    """After an amendment, for the certificates already released: new requests for newly
    qualified certificates, cancellations for those no longer qualified; the others (and
    certificates still pending) stay untouched."""
    plan = rules.plan_from_dict(registration.plan)
    mine = _results_where(db, Result.registration_id == registration.id).get(registration.id, {})
    outcome_rows = {
        o.certificate: o
        for o in db.scalars(sa.select(Outcome).where(Outcome.registration_id == registration.id))
    }
    active, revisions = _requests_of(db, registration.id)
    sitter = _sitter(registration)
    changes: dict[str, list[str]] = {"requested": [], "cancelled": []}
    stored = list(outcome_rows.values())
    for outcome in _evaluate_released(db, session, registration, plan, catalogue, mine, stored):
        row = outcome_rows[outcome.certificate]
        for key, value in outcome_values(outcome).items():
            setattr(row, key, value)
        row.evaluated_at = now
        current = active.get(outcome.certificate)
        if outcome.qualified and current is None:
            new = issuance.Qualified(
                sitter,
                plan.target(outcome.certificate),
                rules.target_results(plan, outcome.certificate, mine),
                revision=revisions[outcome.certificate] + 1,
            )
            (request_id,) = issuance.create_requests(
                db, outbox=outbox, session=session, catalogue=catalogue, qualified=[new], now=now
            ).values()
            row.issuance_request_id = request_id
            changes["requested"].append(request_id)
        elif not outcome.qualified and current is not None:
            failed = ", ".join(f.section for f in outcome.failed_sections)
            reason = f"no longer qualified after an amendment (failed: {failed})"
            if _cancel(db, outbox, current, reason, now):
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


def outcomes_of(db: Session, *, registration_id: str) -> list[Outcome]:
    return list(
        db.scalars(
            sa.select(Outcome)
            .where(Outcome.registration_id == registration_id)
            .order_by(Outcome.certificate)
        )
    )
