"""Absence (docs/api.md §6): a registered candidate who did not sit.

It lives with results because it is their counterpart: an absent candidate has no results, and
finalisation gives each of their targets the outcome ``absent``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth import Principal
from app.db import utcnow
from app.errors import Conflict
from app.results.models import Result
from app.sessions import registrations as registrations_service
from app.sessions import service as sessions_service
from app.sessions.models import Registration


def mark_absent(*, db: Session, registration_id: str, principal: Principal) -> Registration:
    """The candidate did not sit: no results are expected and nothing will be issued."""
    registration, session = registrations_service.get_for(
        db=db, registration_id=registration_id, principal=principal, lock_session=True
    )
    sessions_service.require_scheduled(session, "marking absence")
    if registration.status == "absent":
        return registration
    recorded = db.scalar(
        sa.select(sa.func.count()).where(Result.registration_id == registration.id)
    )
    if recorded:
        raise Conflict(
            f"{recorded} result(s) are recorded for this candidate; they cannot be marked absent."
        )
    registration.status = "absent"
    registration.absent_at = utcnow()
    db.flush()
    audit.append(
        db,
        actor=principal.actor,
        action="registration.absent",
        subject=registration.id,
        before="registered",
        after="absent",
    )
    return registration
