from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.audit import service
from app.audit.schemas import AuditEntryOut, VerificationOut
from app.auth import Admin
from app.deps import DatabaseDep
from app.errors import problem_responses
from app.pagination import Page, Paging

router = APIRouter(prefix="/v1/audit-log", tags=["audit"], responses=problem_responses(401, 403))


@router.get("", summary="List audit log entries", response_model=Page[AuditEntryOut])
def list_audit_entries(
    database: DatabaseDep,
    _admin: Admin,
    page: Paging,
    subject: Annotated[str | None, Query(max_length=130, pattern=r"^[A-Za-z0-9_./-]+$")] = None,
) -> Page[AuditEntryOut]:
    """Every write that changed an exam outcome, oldest first."""
    with database.read() as db:
        rows, cursor = service.list_entries(db=db, subject=subject, page=page)
        items = [AuditEntryOut.model_validate(r, from_attributes=True) for r in rows]
    return Page(items=items, next_cursor=cursor)


@router.get(
    "/verification", summary="Verify the audit log's hash chain", response_model=VerificationOut
)
def verify_audit_log(database: DatabaseDep, _admin: Admin) -> VerificationOut:
    """Recompute the hash chain and report the first entry that does not hold."""
    with database.read() as db:
        result = service.verify(db)
    return VerificationOut(
        intact=result.intact,
        entries=result.entries,
        first_broken=result.first_broken,
        problem=result.problem,
    )
