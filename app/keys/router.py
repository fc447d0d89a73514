from __future__ import annotations

from fastapi import APIRouter, Response

from app.auth import Admin
from app.deps import DatabaseDep
from app.errors import problem_responses
from app.keys import service
from app.keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from app.pagination import Page, Paging
from app.schemas import IdPath

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"], responses=problem_responses(401, 403))


@router.post(
    "",
    summary="Create an API key",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=problem_responses(422),
)
def create_api_key(data: ApiKeyCreate, database: DatabaseDep, admin: Admin) -> ApiKeyCreated:
    """Create a key for an admin, a centre or a department. The key is shown only here."""
    with database.write() as db:
        row, key = service.create(db=db, data=data, actor=admin)
        out = ApiKeyOut.model_validate(row, from_attributes=True)
    return ApiKeyCreated(**out.model_dump(), key=key)


@router.get("", summary="List API keys", response_model=Page[ApiKeyOut])
def list_api_keys(database: DatabaseDep, _admin: Admin, page: Paging) -> Page[ApiKeyOut]:
    """Every key, without the key itself (only its hash is stored)."""
    with database.read() as db:
        rows, cursor = service.list_keys(db=db, page=page)
        items = [ApiKeyOut.model_validate(r, from_attributes=True) for r in rows]
    return Page(items=items, next_cursor=cursor)


@router.delete(
    "/{key_id}", summary="Revoke an API key", status_code=204, responses=problem_responses(404)
)
def revoke_api_key(key_id: IdPath, database: DatabaseDep, admin: Admin) -> Response:
    """Revoke a key (the bootstrap admin key too); it stops working at once."""
    with database.write() as db:
        service.revoke(db=db, key_id=key_id, actor=admin)
    return Response(status_code=204)
