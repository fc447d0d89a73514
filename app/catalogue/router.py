from __future__ import annotations

from fastapi import APIRouter, Path

from app.auth import Admin, AnyRole
from app.catalogue import service
from app.catalogue.models import CatalogueVersion
from app.catalogue.schemas import CatalogueDocument, CatalogueVersionOut
from app.deps import DatabaseDep
from app.errors import problem_responses

router = APIRouter(
    prefix="/v1/catalogue", tags=["catalogue"], responses=problem_responses(401, 403)
)


def version_out(row: CatalogueVersion) -> CatalogueVersionOut:
    """The stored document with its version, validated into the response schema."""
    return CatalogueVersionOut.model_validate(
        {
            **row.document,
            "version": row.version,
            "created_at": row.created_at,
            "created_by": row.created_by,
        }
    )


@router.put(
    "",
    summary="Publish a new catalogue version",
    status_code=201,
    response_model=CatalogueVersionOut,
    responses=problem_responses(409, 422),
)
def put_catalogue(
    document: CatalogueDocument, database: DatabaseDep, admin: Admin
) -> CatalogueVersionOut:
    """Store the whole catalogue as a new immutable version. Every problem in the document is
    reported at once, each with a JSON pointer; nothing is stored unless there are none."""
    with database.write() as db:
        return version_out(service.put(db=db, document=document, actor=admin.actor))


@router.get(
    "",
    summary="Read the catalogue in force",
    response_model=CatalogueVersionOut,
    responses=problem_responses(404),
)
def get_latest_catalogue(database: DatabaseDep, _principal: AnyRole) -> CatalogueVersionOut:
    """The catalogue version in force (the latest)."""
    with database.read() as db:
        return version_out(service.latest(db=db))


@router.get(
    "/versions/{version}",
    summary="Read an earlier catalogue version",
    response_model=CatalogueVersionOut,
    responses=problem_responses(404),
)
def get_catalogue_version(
    database: DatabaseDep, _principal: AnyRole, version: int = Path(ge=1, le=2**31 - 1)
) -> CatalogueVersionOut:
    """Any earlier version, unchanged."""
    with database.read() as db:
        return version_out(service.get_version(db=db, version=version))
