"""``POST /v1/candidate-certificates:search``: a person's certificate record, looked up for a
purpose and on the record.

- An admin or a department may look anyone up. A centre only people registered (not
  withdrawn) in one of its own sessions; for anyone else it gets 403, the same answer whether
  the person exists or not.
- Every lookup, allowed or refused, appends an audit entry naming the key (the ID number only
  masked), committed even when the answer is 403.
- Lookups are rate-limited per key (``ONEEXAM_LOOKUP_RATE_LIMIT`` a minute, default 120): over
  it, 429 with ``Retry-After``.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from app.audit import service as audit
from app.auth import Principal
from app.candidates import service
from app.candidates.models import Candidate, CandidateCertificate
from app.crypto import Vault
from app.errors import Forbidden
from app.i18n import _
from app.keys.ratelimit import KeyRateLimiter
from app.rules import mask_id_number
from app.sessions.models import ExamSession, Registration
from app.sessions.states import RegistrationStatus

ACTION = "candidate_certificates.searched"
NOT_YOURS = _("A centre may look up only people registered in its own sessions.")


@dataclass(frozen=True)
class Lookup:
    allowed: bool
    certificates: list[CandidateCertificate]

    def result(self) -> list[CandidateCertificate]:
        """The certificates, or 403 for a centre asking about someone not its own."""
        if not self.allowed:
            raise Forbidden(NOT_YOURS)
        return self.certificates


def _registered_at(db: Session, candidate_id: str, centre: str) -> bool:
    """The person has a registration in one of the centre's sessions that was not withdrawn (a
    withdrawal ends the centre's purpose: registering and withdrawing at once opens nothing)."""
    stmt = (
        sa.select(Registration.id)
        .join(ExamSession, ExamSession.id == Registration.session_id)
        .where(
            Registration.candidate_id == candidate_id,
            ExamSession.centre_code == centre,
            Registration.status != RegistrationStatus.WITHDRAWN,
        )
        .limit(1)
    )
    return db.scalar(stmt) is not None


def _may_see(db: Session, principal: Principal, person: Candidate | None) -> bool:
    if principal.role != "centre":
        return True
    return person is not None and _registered_at(db, person.id, principal.subject or "")


def check_rate(limiter: KeyRateLimiter, principal: Principal) -> None:
    """429 with ``Retry-After`` when this key has used up its lookups for now."""
    wait = limiter.acquire(principal.key_id)
    if wait is not None:
        raise HTTPException(
            429,
            _("Too many lookups with this key; try again in %(wait)s s.", wait=wait),
            headers={"Retry-After": str(wait)},
        )


def look_up(db: Session, *, vault: Vault, principal: Principal, id_number: str) -> Lookup:
    """Decide, read and audit one lookup. The caller commits, then calls :meth:`Lookup.result`
    (so that a refused lookup is on the record too)."""
    index = service.id_number_index(vault, id_number)
    person = service.find_by_index(db=db, indexes=[index]).get(index)
    allowed = _may_see(db, principal, person)
    rows = service.certificates_of(db=db, candidate_id=person.id) if allowed and person else []
    audit.append(
        db,
        actor=principal.actor,
        action=ACTION,
        subject=person.id if person is not None and allowed else "candidate-certificates",
        after={"id_number": mask_id_number(id_number), "allowed": allowed, "found": len(rows)},
    )
    return Lookup(allowed, rows)
