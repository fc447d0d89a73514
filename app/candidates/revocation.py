"""``POST /v1/candidate-certificates/{id}/revocation``: a certificate of the record revoked by
its department (or an admin), with the registrations that rested on it re-planned at once.

- A department revokes only the certificates it issued; another's is not found (404), so that
  the record of a person is not revealed to a department that never dealt with them.
- Revoking again with the same reason changes nothing (the same answer, no audit entry);
  with another reason it is a conflict (409).
- The revocation, the re-plans (``app/sessions/replanning.py``) and the audit entry are one
  transaction.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app import clock
from app.audit import service as audit
from app.auth import Principal
from app.candidates import service
from app.candidates.models import CandidateCertificate
from app.db import utcnow
from app.errors import NotFound
from app.i18n import _
from app.rules import mask_certificate_number
from app.sessions import replanning

ACTION = "candidate_certificate.revoked"


def _visible(db: Session, principal: Principal, certificate_id: str) -> CandidateCertificate:
    found = service.get_certificate(db=db, certificate_id=certificate_id)
    if found is None or not (principal.is_admin or principal.is_department(found.department_code)):
        raise NotFound(_("No certificate %(certificate_id)s.", certificate_id=certificate_id))
    return found


def revoke(
    db: Session, *, principal: Principal, certificate_id: str, reason: str
) -> CandidateCertificate:
    """Revoke the certificate and re-plan what rested on it; the certificate as it now is."""
    found = _visible(db, principal, certificate_id)
    now = utcnow()
    # the sessions first, then the certificate: the order a registration locks them in
    replanning.lock_open_sessions(db, candidate_id=found.candidate_id, now=now)
    certificate = service.get_certificate(db=db, certificate_id=found.id, lock=True)
    assert certificate is not None
    if not service.revoke(
        certificate, reason=reason, actor=principal.actor, now=now, on=clock.today()
    ):
        return certificate
    db.flush()
    replanned = replanning.after_revocation(db, certificate=certificate, why=reason, now=now)
    audit.append(
        db,
        actor=principal.actor,
        action=ACTION,
        subject=certificate.id,
        after={
            "certificate": certificate.certificate,
            "number": mask_certificate_number(certificate.number),
            "on": certificate.revoked_on,
            "reason": reason,
            "replanned": replanned,
        },
    )
    return certificate
