from __future__ import annotations

from fastapi import APIRouter

from app.auth import Admin, AnyRole
from app.centres import service
from app.centres.schemas import CentreCreate, CentreOut
from app.db import DbSession
from app.errors import Forbidden, problem_responses
from app.pagination import Page, Paging

router = APIRouter(prefix="/v1/centres", tags=["centres"], responses=problem_responses(401, 403))


@router.post("", status_code=201, response_model=CentreOut, responses=problem_responses(409, 422))
def create_centre(data: CentreCreate, db: DbSession, _admin: Admin) -> CentreOut:
    return CentreOut.model_validate(service.create(db=db, data=data), from_attributes=True)


@router.get("", response_model=Page[CentreOut])
def list_centres(db: DbSession, _admin: Admin, page: Paging) -> Page[CentreOut]:
    rows, cursor = service.list_centres(db=db, page=page)
    return Page(
        items=[CentreOut.model_validate(c, from_attributes=True) for c in rows], next_cursor=cursor
    )


@router.get("/{code}", response_model=CentreOut, responses=problem_responses(404))
def get_centre(code: str, db: DbSession, principal: AnyRole) -> CentreOut:
    """An admin sees any centre; a centre key sees its own."""
    if not (principal.is_admin or principal.is_centre(code)):
        raise Forbidden("Only an admin or the centre itself can read it.")
    return CentreOut.model_validate(service.get(db=db, code=code), from_attributes=True)
