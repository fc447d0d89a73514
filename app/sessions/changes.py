"""Changing and withdrawing a registration before its session starts (docs/api.md §6).

Both take the session's lock and its registration gate (``registration_closed``: 409
``session-started`` from ``starts_at`` on, ``session-closed`` once it is not scheduled), both
are for the owning centre (an admin for any; another centre's registration is not found), and
both append an audit entry. A change re-plans with the same checks and problems as a new
registration and leaves the seat count alone; a withdrawal frees the seat.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app import rules
from app.audit import service as audit
from app.auth import Principal
from app.candidates import service as candidates_service
from app.catalogue import service as catalogue_service
from app.db import utcnow
from app.errors import Conflict
from app.i18n import _
from app.results import resits
from app.sessions import claims
from app.sessions import registrations as registrations_service
from app.sessions import service as sessions_service
from app.sessions.exceptions import RegisteredElsewhere, RegistrationWithdrawn
from app.sessions.models import ExamSession, Registration
from app.sessions.schemas import HeldIn, RegistrationChange, Withdrawal
from app.sessions.states import RegistrationStatus, registration_may_move


def _open_registration(
    db: Session, registration_id: str, principal: Principal
) -> tuple[Registration, ExamSession]:
    """The registration and its locked session, if registration is still open for it."""
    registration, session = registrations_service.get_for(
        db=db, registration_id=registration_id, principal=principal, lock_session=True
    )
    closed = sessions_service.registration_closed(session)
    if closed is not None:
        raise closed
    return registration, session


def _declared(registration: Registration) -> list[HeldIn]:
    """What was declared as held at registration (the verified record is looked up anew)."""
    return [
        HeldIn.model_validate(
            {k: h.get(k) for k in ("certificate", "number", "valid_until", "issued_on")}
        )
        for h in registration.held
        if not h.get("verified")
    ]


def _inputs(registration: Registration) -> dict[str, Any]:
    """What a change may touch, as the audit entry records it (certificate codes only)."""
    return {
        "targets": list(registration.targets),
        "held": [h["certificate"] for h in registration.held if not h.get("verified")],
    }


def change(
    *, db: Session, registration_id: str, principal: Principal, data: RegistrationChange
) -> Registration:
    """Re-plan the registration with new targets and/or declared certificates."""
    registration, session = _open_registration(db, registration_id, principal)
    if registration.status != RegistrationStatus.REGISTERED:
        raise RegistrationWithdrawn(
            _(
                "Registration %(registration_id)s is withdrawn; it cannot be changed.",
                registration_id=registration.id,
            )
        )
    targets = data.targets if data.targets is not None else list(registration.targets)
    declared = data.held if data.held is not None else _declared(registration)
    catalogue = catalogue_service.load(db=db, version=session.catalogue_version)
    person = registration.candidate
    verified = candidates_service.verified_held(db=db, candidate_ids=[person.id], lock=True)
    history = resits.history_of(db, candidate_ids=[person.id], certificates=session.certificates)
    plan, held = registrations_service.plan_registration(
        catalogue,
        session,
        targets,
        declared,
        person.birth_date,
        verified.get(person.id, []),
        history.get(person.id),
    )
    refusal = registrations_service.ineligibility(session, targets, plan)
    if refusal is not None:
        raise refusal
    _reclaim(db, session, registration, [t.certificate for t in plan.targets])
    before = _inputs(registration)
    plan_json = rules.plan_to_dict(plan)
    held_json = [h.model_dump(mode="json") for h in held]
    if plan_json == registration.plan and held_json == registration.held:
        return registration  # nothing changes: nothing is written
    registration.targets = [t.certificate for t in plan.targets]
    registration.held = held_json
    registration.plan = plan_json
    registration.required_sections = plan_json["required_sections"]
    db.flush()
    audit.append(
        db,
        actor=principal.actor,
        action="registration.changed",
        subject=registration.id,
        before=before,
        after={**_inputs(registration), "required_sections": registration.required_sections},
    )
    return registration


def _reclaim(
    db: Session, session: ExamSession, registration: Registration, targets: list[str]
) -> None:
    """Claim the targets a change adds (409 ``registered-elsewhere`` when another session holds
    one open), free those it drops."""
    added = [t for t in targets if t not in registration.targets]
    dropped = [t for t in registration.targets if t not in targets]
    person = registration.candidate_id
    taken = claims.claimed_elsewhere(db, session_id=session.id, wanted={person: added})
    if taken:
        raise RegisteredElsewhere(targets, taken[person])
    if dropped:
        claims.release(db, registration_ids=[registration.id], certificates=dropped)
    if added:
        wanted = [claims.Wanted(registration.id, person, added)]
        lost = claims.claim(db, session_id=session.id, wanted=wanted)
        if lost:  # a concurrent registration elsewhere won; the transaction is rolled back
            raise RegisteredElsewhere(targets, lost[registration.id])


def withdraw(
    *, db: Session, registration_id: str, principal: Principal, data: Withdrawal
) -> Registration:
    """The candidate withdraws: status ``withdrawn``, the seat free again (again: no change)."""
    registration, session = _open_registration(db, registration_id, principal)
    if registration.status == RegistrationStatus.WITHDRAWN:
        return registration
    if not registration_may_move(registration.status, RegistrationStatus.WITHDRAWN):
        raise Conflict(
            _(
                "Registration %(registration_id)s is absent; it cannot be withdrawn.",
                registration_id=registration.id,
            )
        )
    registration.status = RegistrationStatus.WITHDRAWN
    registration.withdrawn_at = utcnow()
    registration.withdrawal_reason = data.reason
    session.seats_taken -= 1
    claims.release(db, registration_ids=[registration.id])
    db.flush()
    audit.append(
        db,
        actor=principal.actor,
        action="registration.withdrawn",
        subject=registration.id,
        before=RegistrationStatus.REGISTERED,
        after={"status": RegistrationStatus.WITHDRAWN, "reason": data.reason},
    )
    return registration
