from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


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
