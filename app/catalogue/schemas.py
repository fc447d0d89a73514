from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from app.schemas import Code, Name, ScoreIn, StrictModel

CATALOGUE_EXAMPLE: dict[str, Any] = {
    "sections": [
        {
            "code": "ELEC-THEORY",
            "name": "电工作业安全技术理论",
            "kind": "theory",
            "scoring": "score",
            "max_score": 100,
        },
        {
            "code": "ELEC-PRACTICAL",
            "name": "低压电工实际操作",
            "kind": "practical",
            "scoring": "score",
            "max_score": 100,
        },
    ],
    "certificates": [
        {
            "code": "MEM-LV",
            "department": "mem",
            "name": "特种作业操作证（低压电工作业）",
            "occupation": "electrician",
            "validity_years": 6,
            "min_age": 18,
            "max_age": 60,
            "requirements": [
                {"section": "ELEC-THEORY", "pass_score": 80},
                {"section": "ELEC-PRACTICAL", "pass_score": 80},
            ],
            "resit": {"carry_days": 365, "max_resits": 1},
        }
    ],
    "recognitions": [],
    "equivalences": [],
}
"""A catalogue of one certificate (the reference catalogue is in app/catalogue/reference/)."""


class SectionDoc(StrictModel):
    code: Code
    name: Name
    kind: Literal["theory", "practical", "training"]
    scoring: Literal["score", "pass_fail"]
    max_score: ScoreIn | None = Field(None, description="required for scored sections")


class RequirementDoc(StrictModel):
    section: Code
    pass_score: ScoreIn | None = Field(None, description="absent for pass_fail sections")


class ResitDoc(StrictModel):
    carry_days: int = Field(
        ..., ge=1, le=3650, description="passed sections count again for this many days"
    )
    max_resits: int = Field(..., ge=1, le=10, description="in at most this many later sittings")


class CertificateDoc(StrictModel):
    code: Code
    department: Code
    name: Name
    occupation: Name | None = None
    level: int | None = Field(None, ge=1, le=5, description="skill level 5 (五级) … 1 (一级)")
    validity_years: int | None = Field(None, ge=1, le=100, description="null: lifelong")
    min_age: int | None = Field(None, ge=0, le=150)
    max_age: int | None = Field(None, ge=0, le=150)
    requirements: list[RequirementDoc] = Field(..., max_length=100)
    prerequisites_any_of: list[Code] = Field(default_factory=list, max_length=100)
    resit: ResitDoc | None = Field(
        None, description="resits (补考): passed sections carried to later sittings; null: none"
    )


class RecognitionDoc(StrictModel):
    held: Code
    target: Code
    exempt_sections: list[Code] = Field(..., max_length=100)


class EquivalenceDoc(StrictModel):
    held: Code
    counts_as: Code


class CatalogueDocument(StrictModel):
    """The whole catalogue: sections, certificates with their pass marks, and the rules that
    connect certificates across departments."""

    model_config = ConfigDict(json_schema_extra={"examples": [CATALOGUE_EXAMPLE]})

    sections: list[SectionDoc] = Field(..., max_length=1000)
    certificates: list[CertificateDoc] = Field(..., max_length=1000)
    recognitions: list[RecognitionDoc] = Field(default_factory=list, max_length=5000)
    equivalences: list[EquivalenceDoc] = Field(default_factory=list, max_length=5000)


class CatalogueVersionOut(CatalogueDocument):
    version: int
    created_at: datetime
    created_by: str
