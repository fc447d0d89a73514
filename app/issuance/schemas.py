from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

RequestStatus = Literal["pending", "delivered", "issued", "rejected", "failed", "cancelled"]


class IssuanceRequestOut(BaseModel):
    id: str
    status: RequestStatus
    department: str
    certificate: str
    registration_id: str
    session_id: str
    revision: int
    created_at: datetime
    payload: dict[str, Any] = Field(
        description="the issuance.requested data; the ID number is in full only for the issuing department"
    )


class AttemptOut(BaseModel):
    attempt: int
    event: str = Field(description="issuance.requested or issuance.cancelled")
    webhook_id: str
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float
    outcome: str


class DecisionOut(BaseModel):
    decision: Literal["issued", "rejected"]
    certificate_number: str | None = None
    issued_on: date | None = None
    valid_until: date | None = None
    reason: str | None = None
    decided_at: datetime


class IssuanceRequestDetail(IssuanceRequestOut):
    attempts: list[AttemptOut]
    decision: DecisionOut | None
    cancel_reason: str | None
