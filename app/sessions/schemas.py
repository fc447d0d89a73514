from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
)

from app.errors import Problem
from app.schemas import (
    CertificateNumber,
    Code,
    DateIn,
    DateTimeIn,
    IdNumber,
    Label,
    Name,
    Reason,
    Score,
    StrictModel,
    Text,
)
from app.sessions.states import RegistrationStatus, SessionStatus

MAX_REGISTRATION_BATCH = 1000

REGISTRATION_EXAMPLE: dict[str, Any] = {
    "candidate": {"id_number": "440305199203150027", "name": "李娜"},
    "targets": ["MEM-LV", "MOHURD-ELEC", "MOHRSS-ELEC-L5"],
    "held": [],
}


class HeldIn(StrictModel):
    certificate: Code
    number: CertificateNumber
    valid_until: DateIn | None = Field(
        None, description="last valid day; not later than issued_on + the catalogue's validity"
    )
    issued_on: DateIn | None = Field(
        None,
        description=(
            "the day it was issued: valid for the catalogue's validity_years from then; a "
            "certificate with neither valid_until nor issued_on is ignored (undated)"
        ),
    )


class CandidateIn(StrictModel):
    id_number: IdNumber
    name: Name


class RegistrationCreate(StrictModel):
    model_config = ConfigDict(json_schema_extra={"examples": [REGISTRATION_EXAMPLE]})

    candidate: CandidateIn
    targets: list[Code] = Field(..., min_length=1, max_length=20)
    held: list[HeldIn] = Field(default_factory=list, max_length=50)


class RegistrationChange(StrictModel):
    """``PATCH /v1/registrations/{id}``: what changes; a field left out stays as it is."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"targets": ["MEM-LV", "MOHURD-ELEC"]},
                {"held": [{"certificate": "MEM-LV", "number": "T1", "valid_until": "2031-06-30"}]},
            ]
        }
    )

    targets: list[Code] | None = Field(
        None,
        min_length=1,
        max_length=20,
        description="the new targets, replacing the old ones (same checks as at registration)",
    )
    held: list[HeldIn] | None = Field(
        None,
        max_length=50,
        description="the certificates declared as held, replacing those declared before (the "
        "person's verified record counts as held whatever is declared)",
    )


class Withdrawal(StrictModel):
    """``POST /v1/registrations/{id}/withdraw``."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "考生申请退考"}]})

    reason: Text = Field(description="why the candidate withdraws", examples=["考生申请退考"])


class RegistrationBatch(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"registrations": [REGISTRATION_EXAMPLE]}]}
    )

    registrations: Annotated[
        list[dict[str, Any]],
        Field(max_length=MAX_REGISTRATION_BATCH),
        WithJsonSchema(
            {
                "type": "array",
                "items": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/RegistrationCreate"},
                        {"type": "object"},
                    ],
                    "description": (
                        "a RegistrationCreate; a row that is not one is answered in its own "
                        "item with status 422, and the other rows go ahead"
                    ),
                },
                "maxItems": MAX_REGISTRATION_BATCH,
                "description": (
                    f"up to {MAX_REGISTRATION_BATCH} rows (more is 413); each row is checked "
                    "on its own, so one bad row does not stop the others"
                ),
            }
        ),
    ]


class SessionCreate(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "certificates": ["MEM-LV", "MOHURD-ELEC", "MOHRSS-ELEC-L5"],
                    "starts_at": "2026-12-15T09:00:00+08:00",
                    "ends_at": "2026-12-15T17:00:00+08:00",
                    "capacity": 40,
                    "venue": "实操考场一",
                }
            ]
        }
    )

    certificates: list[Code] = Field(..., min_length=1, max_length=50)
    starts_at: DateTimeIn
    ends_at: DateTimeIn
    capacity: int = Field(..., ge=1, le=100_000)
    venue: Label | None = None
    centre: Code | None = Field(None, description="admin only: the centre the session belongs to")


class SectionInfo(BaseModel):
    code: str
    name: str
    kind: str
    scoring: str
    max_score: Score | None


class SessionOut(BaseModel):
    id: str
    centre: str
    status: SessionStatus
    catalogue_version: int
    certificates: list[str]
    sections: list[SectionInfo]
    starts_at: datetime
    ends_at: datetime
    exam_date: date = Field(
        description="the local date of starts_at in the centre's zone; rules apply on this day"
    )
    timezone: str = Field(description="the centre's IANA zone; starts_at/ends_at are in its offset")
    capacity: int
    registered: int
    venue: str | None
    created_at: datetime
    cancelled_at: datetime | None
    finalised_at: datetime | None


class CandidateOut(BaseModel):
    id_number: str = Field(description="masked: region code and last four characters")
    name: str
    birth_date: date


class BasisOut(BaseModel):
    certificate: str
    number: str


class ExemptionOut(BaseModel):
    target: str
    section: str
    basis: BasisOut


class IgnoredHeldOut(BaseModel):
    certificate: str
    number: str
    valid_until: date | None
    reason: Reason = Field(description="why it is ignored: expired, undated, not-in-catalogue")


class HeldOut(BaseModel):
    certificate: str
    number: str
    valid_until: date | None
    issued_on: date | None = None
    verified: bool = Field(description="issued through oneexam, rather than declared")


class CarryBasisOut(BaseModel):
    registration_id: str
    exam_date: date


class CarriedOut(BaseModel):
    """A section carried from an earlier sitting (resits, §11): not sat again for ``target``."""

    target: str
    section: str
    score: Score | None = None
    passed: bool | None = None
    basis: CarryBasisOut


class RegistrationOut(BaseModel):
    id: str
    session_id: str
    candidate: CandidateOut
    targets: list[str]
    held: list[HeldOut]
    required_sections: list[str]
    exemptions: list[ExemptionOut]
    ignored_held: list[IgnoredHeldOut]
    carried: list[CarriedOut] = Field(
        default_factory=list, description="sections carried from an earlier sitting"
    )
    status: RegistrationStatus = Field(
        description="registered, absent (did not sit), or withdrawn (before the start; its seat "
        "is free again)"
    )
    created_at: datetime
    withdrawn_at: datetime | None = Field(None, description="when it was withdrawn")
    withdrawal_reason: str | None = Field(None, description="why it was withdrawn")


class BatchItem(BaseModel):
    index: int
    status: int = Field(description="the HTTP status this row would have had alone")
    registration: RegistrationOut | None = None
    problem: Problem | None = None


class BatchOut(BaseModel):
    items: list[BatchItem]
    created: int
    rejected: int


class PlanRequest(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "certificates": ["MOHURD-ELEC", "MOHRSS-ELEC-L4"],
                    "held": [
                        {
                            "certificate": "MEM-LV",
                            "number": "T110105199005170011",
                            "valid_until": "2031-06-30",
                        }
                    ],
                }
            ]
        }
    )

    certificates: list[Code] = Field(..., min_length=1, max_length=20)
    held: list[HeldIn] = Field(default_factory=list, max_length=50)
    id_number: IdNumber | None = Field(
        None, description="checks age, and counts the person's verified certificates as held"
    )
    on: DateIn | None = Field(None, description="the day to plan for; default today")


class TargetOut(BaseModel):
    certificate: str
    eligible: bool
    reasons: list[Reason] = Field(
        description="why the target is not open (empty when eligible): too-young, too-old, "
        "missing-prerequisite, already-held"
    )
    required_sections: list[str]
    exemptions: list[ExemptionOut]


class PlanOut(BaseModel):
    on: date
    catalogue_version: int
    required_sections: list[str]
    exemptions: list[ExemptionOut]
    ignored_held: list[IgnoredHeldOut]
    targets: list[TargetOut]
    carried: list[CarriedOut] = Field(
        default_factory=list, description="sections carried from an earlier sitting"
    )
