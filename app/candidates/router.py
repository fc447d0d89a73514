from __future__ import annotations

from fastapi import APIRouter

from app import clock
from app.auth import AnyRole
from app.candidates import lookup
from app.candidates.schemas import CandidateCertificateOut, CertificateSearch
from app.deps import DatabaseDep, LookupLimiterDep, SettingsDep, VaultDep
from app.errors import problem_responses
from app.pagination import Page
from app.rules import mask_certificate_number

router = APIRouter(tags=["candidates"], responses=problem_responses(401, 403))


@router.post(
    "/v1/candidate-certificates:search",
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
    """Every certificate issued through oneexam to the person with this ID number. These count
    as held (verified) in later registrations and plans without being declared. A POST, so
    that the number never appears in a URL or an access log."""
    lookup.check_rate(limiter, principal)
    today = clock.today(settings.timezone)
    with database.write() as db:
        found = lookup.look_up(db, vault=vault, principal=principal, id_number=data.id_number)
    rows = found.result()
    return Page(
        items=[
            CandidateCertificateOut(
                certificate=c.certificate,
                department=c.department_code,
                number=c.number
                if principal.is_department(c.department_code)
                else mask_certificate_number(c.number),
                issued_on=c.issued_on,
                valid_until=c.valid_until,
                issuance_request_id=c.issuance_request_id,
                status="revoked"
                if c.revoked_at
                else ("expired" if c.valid_until and c.valid_until < today else "valid"),
            )
            for c in rows
        ]
    )
