from __future__ import annotations

from fastapi import APIRouter

from app.auth import Admin, AnyRole
from app.centres import service
from app.centres.schemas import CentreCreate, CentreOut
from app.deps import DatabaseDep, SettingsDep
from app.errors import Forbidden, problem_responses
from app.i18n import _
from app.pagination import Page, Paging
from app.schemas import CodePath

router = APIRouter(prefix="/v1/centres", tags=["centres"], responses=problem_responses(401, 403))


@router.post(
    "",
    summary="Register an exam centre",
    status_code=201,
    response_model=CentreOut,
    responses=problem_responses(409, 422),
)
def create_centre(
    data: CentreCreate, database: DatabaseDep, settings: SettingsDep, _admin: Admin
) -> CentreOut:
    """A centre; without ``timezone`` its sessions' exam dates are read in ONEEXAM_TIMEZONE."""
    with database.write() as db:
        centre = service.create(db=db, data=data, default_timezone=settings.timezone)
        return CentreOut.model_validate(centre, from_attributes=True)


@router.get("", summary="List exam centres", response_model=Page[CentreOut])
def list_centres(database: DatabaseDep, _admin: Admin, page: Paging) -> Page[CentreOut]:
    """Every exam centre, in the order they were registered (admin only)."""
    with database.read() as db:
        rows, cursor = service.list_centres(db=db, page=page)
        items = [CentreOut.model_validate(c, from_attributes=True) for c in rows]
    return Page(items=items, next_cursor=cursor)


@router.get(
    "/{code}",
    summary="Read an exam centre",
    response_model=CentreOut,
    responses=problem_responses(404),
)
def get_centre(code: CodePath, database: DatabaseDep, principal: AnyRole) -> CentreOut:
    """An admin sees any centre; a centre key sees its own."""
    if not (principal.is_admin or principal.is_centre(code)):
        raise Forbidden(_("Only an admin or the centre itself can read it."))
    with database.read() as db:
        return CentreOut.model_validate(service.get(db=db, code=code), from_attributes=True)
