from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from app import clock
from app.auth import AdminOrDepartment, AnyRole, Principal
from app.candidates import lookup, revocation
from app.candidates.models import CandidateCertificate
from app.candidates.schemas import (
    CandidateCertificateOut,
    CertificateSearch,
    RevocationIn,
    RevokedOut,
)
from app.deps import DatabaseDep, LookupLimiterDep, SettingsDep, VaultDep
from app.errors import problem_responses
from app.pagination import Page
from app.rules import certificate_status, mask_certificate_number
from app.schemas import IdPath

router = APIRouter(tags=["candidates"], responses=problem_responses(401, 403))


def certificate_out(
    c: CandidateCertificate, principal: Principal, today: date
) -> CandidateCertificateOut:
    """One certificate of the record as this principal may see it, its status judged on
    ``today`` (the local date)."""
    revoked = None
    if c.revoked_at is not None:
        assert c.revoked_on is not None
        revoked = RevokedOut(on=c.revoked_on, reason=c.revocation_reason or "")
    return CandidateCertificateOut(
        id=c.id,
        certificate=c.certificate,
        department=c.department_code,
        number=c.number
        if principal.is_department(c.department_code)
        else mask_certificate_number(c.number),
        issued_on=c.issued_on,
        valid_until=c.valid_until,
        issuance_request_id=c.issuance_request_id,
        status=certificate_status(c.valid_until, revoked is not None, today),
        revoked=revoked,
    )


@router.post(
    "/v1/candidate-certificates:search",
    summary="Find a person's certificates by ID number",
    response_model=Page[CandidateCertificateOut],
    responses=problem_responses(422, 429),
)
def search_certificates(
    data: CertificateSearch,
    database: DatabaseDep,
    vault: VaultDep,
    limiter: LookupLimiterDep,
    settings: SettingsDep,
    principal: AnyRole,
) -> Page[CandidateCertificateOut]:
    """Every certificate issued through oneexam to the person with this ID number, with its
    status (valid, expired, revoked). The valid ones count as held (verified) in later
    registrations and plans without being declared. A POST, so that the number never appears
    in a URL or an access log."""
    lookup.check_rate(limiter, principal)
    today = clock.today(settings.timezone)
    with database.write() as db:
        found = lookup.look_up(db, vault=vault, principal=principal, id_number=data.id_number)
    rows = found.result()
    return Page(items=[certificate_out(c, principal, today) for c in rows])


@router.post(
    "/v1/candidate-certificates/{certificate_id}/revocation",
    summary="Revoke an issued certificate",
    response_model=CandidateCertificateOut,
    responses=problem_responses(404, 409, 422),
)
def revoke_certificate(
    certificate_id: IdPath,
    data: RevocationIn,
    database: DatabaseDep,
    settings: SettingsDep,
    principal: AdminOrDepartment,
) -> CandidateCertificateOut:
    """Revoke a certificate of the record: the department that issued it (another department
    gets 404) or an admin. From now on it counts as held nowhere. Every registration of the
    person in a session that has not started and whose plan rested on it (an exemption's
    basis, or the prerequisite, also through equivalences) is re-planned at once and gets a
    ``replans`` entry; sessions already under way apply it at finalisation. Revoking again
    with the same reason is the same 200; with another reason, 409 ``already-revoked``.
    Audited."""
    with database.write() as db:
        certificate = revocation.revoke(
            db, principal=principal, certificate_id=certificate_id, reason=data.reason
        )
        return certificate_out(certificate, principal, clock.today(settings.timezone))
