from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from app.schemas import Code, Name, Score, StrictModel


class SectionDoc(StrictModel):
    code: Code
    name: Name
    kind: Literal["theory", "practical", "training"]
    scoring: Literal["score", "pass_fail"]
    max_score: Score | None = Field(None, description="required for scored sections")


class RequirementDoc(StrictModel):
    section: Code
    pass_score: Score | None = Field(None, description="absent for pass_fail sections")


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

    sections: list[SectionDoc] = Field(..., max_length=1000)
    certificates: list[CertificateDoc] = Field(..., max_length=1000)
    recognitions: list[RecognitionDoc] = Field(default_factory=list, max_length=5000)
    equivalences: list[EquivalenceDoc] = Field(default_factory=list, max_length=5000)


class CatalogueVersionOut(CatalogueDocument):
    version: int
    created_at: datetime
    created_by: str
