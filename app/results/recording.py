"""Results recorded once, and amendments kept beside them (docs/api.md §7).

Every write here locks its session row first (``FOR UPDATE`` on PostgreSQL; SQLite's writing
transactions are exclusive already): result batches, amendments, absences and finalisation of
one session are decided one at a time, so "recorded once" holds under any concurrency. Whether
a batch is recordable is decided by the rules core (``rules.check_result_batch``); this module
loads what that needs and writes what it allows. The audit entry is appended last, to hold the
chain's lock briefly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import rules
from app.audit import service as audit
from app.auth import Principal
from app.catalogue import service as catalogue_service
from app.db import bulk_insert, new_id, utcnow
from app.delivery.outbox import Outbox
from app.errors import Conflict, NotFound, ProblemItem, Unprocessable
from app.i18n import _
from app.results import finalisation
from app.results.models import Result, ResultAmendment, SectionAbsence
from app.results.schemas import AmendmentIn, RecordSummary, ResultIn
from app.schemas import as_json_number
from app.sessions import registrations as registrations_service
from app.sessions import service as sessions_service
from app.sessions.models import ExamSession, Registration
from app.sessions.states import RELEASED, RegistrationStatus, SessionStatus


def json_value(score: Decimal | None, passed: bool | None) -> Any:
    """A result's value as the audit log keeps it."""
    return as_json_number(score) if score is not None else passed


def _sittings(db: Session, session_id: str, wanted: list[str]) -> dict[str, rules.Sitting]:
    stmt = sa.select(Registration.id, Registration.status, Registration.required_sections).where(
        Registration.session_id == session_id, Registration.id.in_(wanted)
    )
    absences = finalisation.absences_where(db, condition=SectionAbsence.registration_id.in_(wanted))
    return {
        reg_id: rules.Sitting(
            absent=status == RegistrationStatus.ABSENT,
            withdrawn=status == RegistrationStatus.WITHDRAWN,
            sits=frozenset(required),
            absent_from=absences.get(reg_id, frozenset()),
        )
        for reg_id, status, required in db.execute(stmt)
    }


def _stored(db: Session, wanted: list[str]) -> dict[tuple[str, str], rules.StoredValue]:
    stmt = sa.select(
        Result.registration_id, Result.section, Result.original_score, Result.original_passed
    ).where(Result.registration_id.in_(wanted))
    return {(reg, section): (score, passed) for reg, section, score, passed in db.execute(stmt)}


def _items(problems: Iterable[rules.RowProblem]) -> list[ProblemItem]:
    return [ProblemItem(pointer=p.pointer, message=p.message) for p in problems]


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
    finalisation.require_open(session, _("recording results"))
    catalogue = catalogue_service.load(db=db, version=session.catalogue_version)
    wanted = list({r.registration_id for r in rows})
    check = rules.check_result_batch(
        rows,
        sittings=_sittings(db, session.id, wanted),
        stored=_stored(db, wanted),
        sections=catalogue.sections,
    )
    if check.invalid:
        raise Unprocessable(
            _("%(count)s row(s) are not valid; nothing was recorded.", count=len(check.invalid)),
            errors=_items(check.invalid),
        )
    if check.conflicts:
        raise Conflict(
            _(
                "%(count)s row(s) contradict recorded results; nothing was recorded.",
                count=len(check.conflicts),
            ),
            errors=_items(check.conflicts),
        )
    new = [rows[k] for k in check.new]
    if new and not dry_run:
        _insert(db, session, principal, new)
    return RecordSummary(created=len(new), unchanged=check.unchanged)


def _insert(
    db: Session, session: ExamSession, principal: Principal, new: Sequence[ResultIn]
) -> None:
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
        after=[[r.registration_id, r.section, json_value(r.score, r.passed)] for r in new],
    )


def _result_to_amend(db: Session, registration: Registration, section: str) -> Result:
    result = db.scalars(
        sa.select(Result).where(
            Result.registration_id == registration.id, Result.section == section
        )
    ).first()
    if result is None:
        if section in registration.required_sections:
            raise Conflict(
                _("No result is recorded for %(section)s yet; record it first.", section=section)
            )
        raise NotFound(_("The registration does not sit %(section)s.", section=section))
    return result


def _check_amendment(section: rules.Section, result: Result, data: AmendmentIn) -> None:
    problem = rules.result_problem(section, data.score, data.passed)
    if problem is not None:
        raise Unprocessable(
            _("The amendment does not fit the section."),
            errors=[ProblemItem(pointer=f"/{problem[0]}", message=problem[1])],
        )
    if (data.score, data.passed) == (result.score, result.passed):
        raise Unprocessable(
            _("The amendment changes nothing."),
            errors=[
                ProblemItem(
                    pointer="/score" if data.score is not None else "/passed",
                    message=_("equals the current value"),
                )
            ],
        )


def amend(
    *,
    db: Session,
    outbox: Outbox,
    registration_id: str,
    section: str,
    principal: Principal,
    data: AmendmentIn,
) -> ResultAmendment:
    """Correct a recorded result; after finalisation, re-evaluate the registration."""
    registration, session = registrations_service.get_for(
        db=db, registration_id=registration_id, principal=principal, lock_session=True
    )
    if session.status == SessionStatus.CANCELLED:
        raise Conflict(_("The session is cancelled; its results cannot be amended."))
    result = _result_to_amend(db, registration, section)
    catalogue = catalogue_service.load(db=db, version=session.catalogue_version)
    _check_amendment(catalogue.sections[section], result, data)
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
    before = json_value(result.score, result.passed)
    result.score, result.passed = data.score, data.passed
    result.amendments_count += 1
    db.flush()
    after: dict[str, Any] = {"value": json_value(data.score, data.passed), "reason": data.reason}
    if session.status in RELEASED:
        after["reevaluation"] = finalisation.reevaluate(
            db,
            outbox=outbox,
            session=session,
            registration=registration,
            catalogue=catalogue,
            now=now,
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


def results_of(
    db: Session, *, registration_id: str
) -> tuple[list[Result], dict[str, list[ResultAmendment]]]:
    """A registration's results (by section) and each one's amendments (oldest first)."""
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
