"""A certificate of a person's record, as of a day (docs/api.md §8). No database, no I/O."""

from __future__ import annotations

from datetime import date
from enum import StrEnum


class CertificateStatus(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    REVOKED = "revoked"


def certificate_status(valid_until: date | None, revoked: bool, today: date) -> CertificateStatus:
    """Revoked wins; otherwise expired once its last valid day is before ``today`` (the local
    date); a certificate without ``valid_until`` is lifelong."""
    if revoked:
        return CertificateStatus.REVOKED
    if valid_until is not None and valid_until < today:
        return CertificateStatus.EXPIRED
    return CertificateStatus.VALID
