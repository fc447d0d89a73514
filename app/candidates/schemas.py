"""What a certificate search takes and returns."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel

from app.schemas import IdNumber, StrictModel


class CertificateSearch(StrictModel):
    id_number: IdNumber


class CandidateCertificateOut(BaseModel):
    certificate: str
    department: str
    number: str
    issued_on: date
    valid_until: date | None
    issuance_request_id: str
    status: Literal["valid", "expired", "revoked"]
