from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from app import rules
from app.i18n import _, translate
from app.results.states import OutcomeStatus
from app.rules import reasons
from app.rules.reasons import ReasonCode
from app.schemas import (
    Code,
    Identifier,
    Reason,
    Score,
    ScoreIn,
    StrictBoolean,
    StrictModel,
    Text,
)
from app.sessions.schemas import CarriedOut, ExemptionOut, RegistrationOut
from app.sessions.states import SessionStatus

if TYPE_CHECKING:
    from app.results.models import Outcome, Result, ResultAmendment

MAX_RESULT_BATCH = 5000
RegistrationId = Identifier

ONE_VALUE: dict[str, Any] = {
    "oneOf": [
        {
            "required": ["score"],
            "properties": {"score": {"type": "number"}, "passed": {"type": "null"}},
        },
        {
            "required": ["passed"],
            "properties": {"passed": {"type": "boolean"}, "score": {"type": "null"}},
        },
    ]
}
"""The JSON Schema of "exactly one of score or passed"."""


class ResultIn(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            **ONE_VALUE,
            "examples": [
                {"registration_id": "reg_01JF3Z6W7K2M4N8P0Q", "section": "ELEC-THEORY", "score": 75}
            ],
        }
    )

    registration_id: RegistrationId
    section: Code
    score: ScoreIn | None = Field(
        None, description="scored sections: 0..max_score, one decimal at most"
    )
    passed: StrictBoolean | None = Field(None, description="pass_fail sections")

    @model_validator(mode="after")
    def _one_value(self) -> ResultIn:
        if (self.score is None) == (self.passed is None):
            raise ValueError(
                _("give exactly one of score (scored sections) or passed (pass_fail sections)")
            )
        return self


class ResultBatch(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "results": [
                        {
                            "registration_id": "reg_01JF3Z6W7K2M4N8P0Q",
                            "section": "ELEC-THEORY",
                            "score": 75,
                        },
                        {
                            "registration_id": "reg_01JF3Z6W7K2M4N8P0Q",
                            "section": "ELEC-TRAINING",
                            "passed": True,
                        },
                    ]
                }
            ]
        }
    )

    results: Annotated[
        list[ResultIn],
        Field(max_length=MAX_RESULT_BATCH),
        WithJsonSchema(
            {
                "type": "array",
                "items": {"$ref": "#/components/schemas/ResultIn"},
                "maxItems": MAX_RESULT_BATCH,
                "description": f"up to {MAX_RESULT_BATCH} rows (more is 413); all or nothing",
            }
        ),
    ]


class RecordSummary(BaseModel):
    created: int
    unchanged: int


class AmendmentIn(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            **ONE_VALUE,
            "examples": [{"score": 82, "reason": "复核：第 37 题评分有误"}],
        }
    )

    score: ScoreIn | None = None
    passed: StrictBoolean | None = None
    reason: Text

    @model_validator(mode="after")
    def _one_value(self) -> AmendmentIn:
        if (self.score is None) == (self.passed is None):
            raise ValueError(_("give exactly one of score or passed"))
        return self


class AmendmentOut(BaseModel):
    id: str
    section: str
    score: Score | None
    passed: bool | None
    previous_score: Score | None
    previous_passed: bool | None
    reason: str
    amended_at: datetime
    amended_by: str


class ResultOut(BaseModel):
    section: str
    score: Score | None = Field(description="the current value")
    passed: bool | None
    original_score: Score | None = Field(description="as first recorded")
    original_passed: bool | None
    recorded_at: datetime
    recorded_by: str
    amendments: list[AmendmentOut]

    @classmethod
    def of(cls, result: Result, amendments: Sequence[ResultAmendment]) -> ResultOut:
        return cls(
            section=result.section,
            score=result.score,
            passed=result.passed,
            original_score=result.original_score,
            original_passed=result.original_passed,
            recorded_at=result.recorded_at,
            recorded_by=result.recorded_by,
            amendments=[amendment_out(result.section, a) for a in amendments],
        )


class FailedSection(BaseModel):
    section: str
    score: Score | None
    passed: bool | None
    pass_score: Score | None
    missing: bool = False
    code: ReasonCode = Field(
        description="below-pass-mark, not-sat, or exemption-withdrawn (its basis is gone)"
    )
    message: str = Field(
        description="the reason in words, in the request's language (the code does not change)",
        examples=["ELEC-THEORY is not passed at this certificate's pass mark"],
    )

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> FailedSection:
        """From an outcome's stored failure (rows written before codes: from ``missing``)."""
        code = stored.get("code") or (
            ReasonCode.NOT_SAT if stored.get("missing") else ReasonCode.BELOW_PASS_MARK
        )
        reason = reasons.Reason.of(ReasonCode(code), section=stored["section"])
        text = translate(reasons.message(reason))  # in the language of the request
        return cls.model_validate({**stored, "code": code, "message": text})


class OutcomeOut(BaseModel):
    registration_id: str
    certificate: str
    department: str
    status: OutcomeStatus
    failed_sections: list[str] = Field(
        description="codes of the sections not passed at this certificate's marks"
    )
    failures: list[FailedSection] = Field(
        description="each failed section with the score and the mark it missed"
    )
    exemptions: list[ExemptionOut]
    reasons: list[Reason] = Field(
        default_factory=list,
        description="not_eligible: why (found again at finalisation): missing-prerequisite, ...",
    )
    carried: list[CarriedOut] = Field(
        default_factory=list,
        description="sections judged on an earlier sitting's result (resits), with their basis",
    )
    issuance_request_id: str | None


class AbsenceIn(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"sections": ["ELEC-PRACTICAL"], "reason": "因病缺考实操"}]}
    )

    sections: list[Code] | None = Field(
        None,
        description="absent from these sections only; without it, absent from the whole sitting",
    )
    reason: Text | None = None


class AbsentSection(BaseModel):
    section: str
    reason: str | None


class RegistrationAbsences(RegistrationOut):
    absent_sections: list[AbsentSection] = Field(
        description="sections the candidate was marked absent from (no result expected)"
    )


class Replanned(BaseModel):
    """The service re-planned the registration on its own: a certificate its plan rested on
    was revoked before the session started."""

    at: datetime
    reason: str = Field(
        examples=[
            "MEM-LV T110105********0011 was revoked (证书持有人隐瞒事故责任，依法撤销): "
            "ELEC-TRAINING is to be sat for MOHURD-ELEC (its exemption is withdrawn); "
            "MOHRSS-ELEC-L4 lost its prerequisite and is not eligible"
        ],
        description="which certificate was revoked (its number masked), why, and what the plan "
        "lost; in the language of the request",
    )

    @classmethod
    def of(cls, entry: Mapping[str, Any]) -> Replanned:
        """A stored ``replans`` entry, its reason in the language of the request."""
        return cls(at=entry["at"], reason=translate(rules.replan_reason(entry)))


class TargetEligibility(BaseModel):
    certificate: str
    eligible: bool = Field(
        description="false only after a re-plan: the target stays listed and ends not_eligible"
    )
    reasons: list[Reason]


class RegistrationDetail(RegistrationAbsences):
    eligibility: list[TargetEligibility] = Field(
        description="each target as the plan stands: eligible, or not with the reasons"
    )
    replans: list[Replanned] = Field(
        description="each time the service re-planned the registration itself, oldest first"
    )
    results: list[ResultOut]
    outcomes: list[OutcomeOut]


class FinaliseIn(StrictModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"certificates": ["MEM-LV"]}]})

    certificates: list[Code] | None = Field(
        None, description="release only these certificates of the session; without it, all"
    )


class FinaliseSummary(BaseModel):
    status: Literal[SessionStatus.FINALISED, SessionStatus.PARTIALLY_FINALISED] = Field(
        description="the session's status after this release"
    )
    certificates: list[str] = Field(description="the certificates this summary counts")
    registrations: int = Field(description="registrations with one of these certificates")
    qualified: int = Field(description="(registration, certificate) pairs qualified")
    not_qualified: int = Field(description="(registration, certificate) pairs not qualified")
    not_eligible: int = Field(description="(registration, certificate) pairs not eligible")
    absent: int = Field(description="registrations absent for one of these certificates")
    issuance_requests: int = Field(description="issuance requests not cancelled")


def amendment_out(section: str, a: ResultAmendment) -> AmendmentOut:
    return AmendmentOut(
        id=a.id,
        section=section,
        score=a.score,
        passed=a.passed,
        previous_score=a.previous_score,
        previous_passed=a.previous_passed,
        reason=a.reason,
        amended_at=a.amended_at,
        amended_by=a.amended_by,
    )


def outcome_out(row: Outcome) -> OutcomeOut:
    return OutcomeOut(
        registration_id=row.registration_id,
        certificate=row.certificate,
        department=row.department_code,
        status=row.status,
        failed_sections=[f["section"] for f in row.failed_sections],
        failures=[FailedSection.of(f) for f in row.failed_sections],
        exemptions=[ExemptionOut.model_validate(rules.masked_numbers(e)) for e in row.exemptions],
        reasons=[Reason.model_validate(r) for r in row.reasons or []],
        carried=[CarriedOut.model_validate(c) for c in row.carried or []],
        issuance_request_id=row.issuance_request_id,
    )
