"""What the outbox shows through the API: attempts, and the recover call."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.delivery.states import AttemptOutcome, EventType
from app.schemas import DateTimeIn, StrictModel


class AttemptOut(BaseModel):
    attempt: int
    event: EventType = Field(description="issuance.requested or issuance.cancelled")
    webhook_id: str
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float
    outcome: AttemptOutcome


class RecoverIn(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"since": "2026-12-15T08:00:00+08:00"}]}
    )

    since: DateTimeIn = Field(description="queue again the failed events created since then")


class RecoverOut(BaseModel):
    department: str
    requeued: int
