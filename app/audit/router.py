from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query
from pydantic import BaseModel

from app.audit import service
from app.audit.models import AuditEntry
from app.auth import Admin
from app.db import DatabaseDep
from app.errors import problem_responses
from app.pagination import Page, Paging, fetch_page

router = APIRouter(prefix="/v1/audit-log", tags=["audit"], responses=problem_responses(401, 403))


class AuditEntryOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    before: Any
    after: Any
    prev_hash: str
    hash: str


class VerificationOut(BaseModel):
    intact: bool
    entries: int
    first_broken: int | None
    problem: str | None


@router.get("", response_model=Page[AuditEntryOut])
def list_audit_entries(
    database: DatabaseDep,
    _admin: Admin,
    page: Paging,
    subject: Annotated[str | None, Query(max_length=130, pattern=r"^[A-Za-z0-9_./-]+$")] = None,
) -> Page[AuditEntryOut]:
    """Every write that changed an exam outcome, oldest first."""
    with database.read() as db:
        stmt = sa.select(AuditEntry)
        if subject:
            stmt = stmt.where(AuditEntry.subject == subject)
        rows, cursor = fetch_page(db, stmt, AuditEntry.seq, page)
        items = [AuditEntryOut.model_validate(r, from_attributes=True) for r in rows]
    return Page(items=items, next_cursor=cursor)


@router.get("/verification", response_model=VerificationOut)
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
