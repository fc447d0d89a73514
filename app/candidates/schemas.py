"""What a certificate search and a revocation take and return."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from app.rules import CertificateStatus
from app.schemas import IdNumber, StrictModel, Text


class CertificateSearch(StrictModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"id_number": "440305199203150027"}]})

    id_number: IdNumber


class RevokedOut(BaseModel):
    on: date = Field(description="the local date of the revocation", examples=["2027-03-02"])
    reason: str = Field(examples=["证书持有人隐瞒事故责任，依法撤销"])


class CandidateCertificateOut(BaseModel):
    id: str = Field(
        description="the certificate's id in the record (for revocation)",
        examples=["cc_01JF5W6Q9D3N2Z8K7Y4X1V0B9A"],
    )
    certificate: str = Field(examples=["MEM-LV"])
    department: str = Field(examples=["mem"])
    number: str = Field(
        description="in full for the issuing department; an embedded ID number is masked for "
        "everyone else",
        examples=["T110105********0011"],
    )
    issued_on: date
    valid_until: date | None = Field(description="none: valid for life")
    issuance_request_id: str
    status: CertificateStatus = Field(
        description="revoked; else expired when valid_until is before today (the local date in "
        "ONEEXAM_TIMEZONE); else valid. Only a valid certificate counts as held"
    )
    revoked: RevokedOut | None = Field(
        None, description="when and why it was revoked (null unless status is revoked)"
    )


class RevocationIn(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "证书持有人隐瞒事故责任，依法撤销"}]}
    )

    reason: Text = Field(
        description="why the certificate is revoked; revoking again with the same reason "
        "changes nothing, with another reason is 409 already-revoked",
        examples=["证书持有人隐瞒事故责任，依法撤销"],
    )
