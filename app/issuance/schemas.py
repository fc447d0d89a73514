from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.delivery.schemas import AttemptOut
from app.i18n import _
from app.issuance.states import Decision, RequestStatus
from app.schemas import CertificateNumber, DateIn, StrictModel, Text

__all__ = [
    "AttemptOut",
    "DecisionIn",
    "DecisionOut",
    "IssuanceRequestDetail",
    "IssuanceRequestOut",
    "RequestStatus",
]


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


class DecisionOut(BaseModel):
    decision: Decision
    certificate_number: str | None = None
    issued_on: date | None = None
    valid_until: date | None = None
    reason: str | None = None
    decided_at: datetime


class IssuanceRequestDetail(IssuanceRequestOut):
    attempts: list[AttemptOut]
    decision: DecisionOut | None
    cancel_reason: str | None


class DecisionIn(StrictModel):
    """``issued`` with the certificate number and dates, or ``rejected`` with a reason."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "decision": "issued",
                    "certificate_number": "T440305199203150027",
                    "issued_on": "2026-12-20",
                },
                {"decision": "rejected", "reason": "照片不符合要求"},
            ],
            "oneOf": [
                {
                    "properties": {
                        "decision": {"const": Decision.ISSUED.value},
                        "certificate_number": {"type": "string"},
                        "issued_on": {"type": "string"},
                        "reason": {"type": "null"},
                    },
                    "required": ["certificate_number", "issued_on"],
                },
                {
                    "properties": {
                        "decision": {"const": Decision.REJECTED.value},
                        "reason": {"type": "string"},
                        "certificate_number": {"type": "null"},
                        "issued_on": {"type": "null"},
                        "valid_until": {"type": "null"},
                    },
                    "required": ["reason"],
                },
            ],
        }
    )

    decision: Decision
    certificate_number: CertificateNumber | None = None
    issued_on: DateIn | None = None
    valid_until: DateIn | None = Field(
        None, description="default: issued_on plus the certificate's validity; none if lifelong"
    )
    reason: Text | None = None

    @model_validator(mode="after")
    def _fields_fit_the_decision(self) -> DecisionIn:
        if self.decision == Decision.ISSUED:
            if self.certificate_number is None or self.issued_on is None:
                raise ValueError(_("an issued decision needs certificate_number and issued_on"))
            if self.reason is not None:
                raise ValueError(_("an issued decision has no reason"))
        else:
            if self.reason is None:
                raise ValueError(_("a rejection needs a reason"))
            if self.certificate_number or self.issued_on or self.valid_until:
                raise ValueError(_("a rejection carries no certificate number or dates"))
        return self
