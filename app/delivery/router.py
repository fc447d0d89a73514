from __future__ import annotations

from fastapi import APIRouter

from app.auth import Admin
from app.db import DatabaseDep, utcnow
from app.delivery import service
from app.delivery.schemas import RecoverIn, RecoverOut
from app.departments import service as departments_service
from app.deps import OutboxDep
from app.errors import problem_responses
from app.schemas import CodePath

router = APIRouter(tags=["delivery"], responses=problem_responses(401, 403))


@router.post(
    "/v1/departments/{code}/recover",
    summary="Queue a department's failed events again",
    status_code=202,
    response_model=RecoverOut,
    responses=problem_responses(404, 422),
)
def recover(
    code: CodePath, data: RecoverIn, database: DatabaseDep, outbox: OutboxDep, admin: Admin
) -> RecoverOut:
    """Queue again every failed event of this department created since ``since`` (for example
    after its endpoint was down for longer than the retry schedule). Each keeps its original
    ``webhook-id``, so the department's de-duplication holds. Audited."""
    with database.write() as db:
        departments_service.get(db=db, code=code)
        count = service.recover(
            db, outbox=outbox, department=code, since=data.since, now=utcnow(), actor=admin.actor
        )
    return RecoverOut(department=code, requeued=count)
