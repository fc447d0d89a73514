from __future__ import annotations

from fastapi import APIRouter, Request

from app.auth import AnyRole
from app.candidates import service
from app.db import DatabaseDep, utcnow
from app.errors import problem_responses
from app.issuance.schemas import CandidateCertificateOut, CertificateSearch
from app.pagination import Page

router = APIRouter(tags=["candidates"], responses=problem_responses(401, 403))


@router.post(
    "/v1/candidate-certificates:search",
    response_model=Page[CandidateCertificateOut],
    responses=problem_responses(422),
)
def search_certificates(
    data: CertificateSearch, request: Request, database: DatabaseDep, _principal: AnyRole
) -> Page[CandidateCertificateOut]:
    """Every certificate issued through oneexam to the person with this ID number. These count
    as held (verified) in later registrations and plans without being declared. A POST, so
    that the number never appears in a URL or an access log."""
    today = utcnow().date()
    with database.read() as db:
        person = service.find_by_index(
            db=db, indexes=[service.id_number_index(request.app.state.vault, data.id_number)]
        )
        candidate = next(iter(person.values()), None)
        rows = service.certificates_of(db=db, candidate_id=candidate.id) if candidate else []
    return Page(
        items=[
            CandidateCertificateOut(
                certificate=c.certificate,
                department=c.department_code,
                number=c.number,
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
