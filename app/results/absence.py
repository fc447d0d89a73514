"""Absence (docs/api.md §6): a registered candidate who did not sit, wholly or in some sections.

It lives with results because it is their counterpart: no result is expected where a candidate
is absent, and finalisation gives each target that needed it the outcome ``absent``. Without
sections the registration's status becomes ``absent``; with them, a :class:`SectionAbsence` is
kept per section, and the other targets are evaluated as usual.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import rules
from app.audit import service as audit
from app.auth import Principal
from app.db import utcnow
from app.errors import Conflict, ProblemItem, Unprocessable
from app.i18n import _
from app.results import finalisation
from app.results.models import Result, SectionAbsence
from app.results.schemas import AbsenceIn, AbsentSection, RegistrationAbsences
from app.sessions import claims
from app.sessions import registrations as registrations_service
from app.sessions.exceptions import RegistrationWithdrawn
from app.sessions.models import ExamSession, Registration
from app.sessions.states import RegistrationStatus, registration_may_move


def mark_absent(
    *, db: Session, registration_id: str, principal: Principal, data: AbsenceIn | None = None
) -> Registration:
    """The candidate did not sit (all of it, or ``data.sections``)."""
    registration, session = registrations_service.get_for(
        db=db, registration_id=registration_id, principal=principal, lock_session=True
    )
    finalisation.require_open(session, _("marking absence"))
    data = data or AbsenceIn()
    if registration.status == RegistrationStatus.ABSENT:
        return registration
    if not registration_may_move(registration.status, RegistrationStatus.ABSENT):
        raise RegistrationWithdrawn(
            _(
                "Registration %(registration_id)s is withdrawn; it cannot be marked absent.",
                registration_id=registration.id,
            )
        )
    if data.sections is not None:
        _absent_from(db, session, registration, principal, data)
        return registration
    recorded = db.scalar(
        sa.select(sa.func.count()).where(Result.registration_id == registration.id)
    )
    if recorded:
        raise Conflict(
            _(
                "%(count)s result(s) are recorded for this candidate; "
                "they cannot be marked absent.",
                count=recorded,
            )
        )
    registration.status = RegistrationStatus.ABSENT
    registration.absent_at = utcnow()
    claims.release(db, registration_ids=[registration.id])  # this sitting gives it nothing
    db.flush()
    audit.append(
        db,
        actor=principal.actor,
        action="registration.absent",
        subject=registration.id,
        before=RegistrationStatus.REGISTERED,
        after=RegistrationStatus.ABSENT
        if data.reason is None
        else {"status": RegistrationStatus.ABSENT, "reason": data.reason},
    )
    return registration


def _check_sections(
    db: Session, session: ExamSession, registration: Registration, sections: Sequence[str]
) -> None:
    wrong = [
        ProblemItem(
            pointer=f"/sections/{k}",
            message=_("this registration does not sit %(section)s", section=code),
        )
        for k, code in enumerate(sections)
        if code not in registration.required_sections
    ]
    if wrong:
        raise Unprocessable(_("The registration does not sit every section named."), errors=wrong)
    recorded = list(
        db.scalars(
            sa.select(Result.section).where(
                Result.registration_id == registration.id, Result.section.in_(sections)
            )
        )
    )
    if recorded:
        raise Conflict(
            _(
                "Results are recorded for %(sections)s; "
                "the candidate cannot be marked absent from them.",
                sections=", ".join(sorted(recorded)),
            )
        )
    released = finalisation.released_certificates(db, session_id=session.id)
    plan = rules.plan_from_dict(registration.plan)
    closed = sorted(
        t.certificate
        for t in plan.targets
        if t.certificate in released and set(sections) & set(t.required_sections)
    )
    if closed:
        raise Conflict(
            _(
                "%(certificates)s is already finalised for this registration.",
                certificates=", ".join(closed),
            )
        )


def _absent_from(
    db: Session,
    session: ExamSession,
    registration: Registration,
    principal: Principal,
    data: AbsenceIn,
) -> None:
    sections = list(dict.fromkeys(data.sections or []))
    already = set(
        finalisation.absences_where(
            db, condition=SectionAbsence.registration_id == registration.id
        ).get(registration.id, frozenset())
    )
    new = [s for s in sections if s not in already]
    if not new:
        return
    _check_sections(db, session, registration, new)
    now = utcnow()
    db.add_all(
        SectionAbsence(
            registration_id=registration.id,
            section=code,
            session_id=session.id,
            reason=data.reason,
            marked_at=now,
            marked_by=principal.actor,
        )
        for code in new
    )
    missed = [
        t.certificate
        for t in rules.plan_from_dict(registration.plan).targets
        if set(new) & set(t.required_sections)
    ]  # those targets are absent from this sitting: it gives them nothing
    claims.release(db, registration_ids=[registration.id], certificates=missed)
    db.flush()
    audit.append(
        db,
        actor=principal.actor,
        action="registration.absent_from",
        subject=registration.id,
        after={"sections": new, "reason": data.reason},
    )


def absent_sections(db: Session, *, registration_id: str) -> list[AbsentSection]:
    return [
        AbsentSection(section=a.section, reason=a.reason)
        for a in db.scalars(
            sa.select(SectionAbsence)
            .where(SectionAbsence.registration_id == registration_id)
            .order_by(SectionAbsence.section)
        )
    ]


def with_absences(db: Session, *, registration: Registration) -> RegistrationAbsences:
    return RegistrationAbsences(
        **registrations_service.registration_out(registration).model_dump(),
        absent_sections=absent_sections(db, registration_id=registration.id),
    )
