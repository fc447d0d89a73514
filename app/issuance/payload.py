"""The ``issuance.requested`` and ``issuance.cancelled`` webhook bodies (docs/api.md §9).

Bodies are serialised once, when the event is created, and those exact bytes are what every
attempt signs and sends: a retry is byte-for-byte the same request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from app import rules
from app.rules.basis import exemption_via, prerequisite
from app.schemas import as_json_number
from app.sessions.models import ExamSession


def _number(value: Decimal | None) -> int | float | None:
    return None if value is None else as_json_number(value)


def requested_data(
    *,
    request_id: str,
    catalogue: rules.Catalogue,
    certificate_code: str,
    target: rules.TargetPlan,
    results: Mapping[str, rules.SectionResult],
    candidate: Mapping[str, Any],
    session: Mapping[str, Any],
    held: Sequence[rules.HeldCertificate] = (),
    on: date | None = None,
) -> dict[str, Any]:
    """``data`` of ``issuance.requested``: the certificate, the person (full ID number: this body
    goes only to the issuing department), the sitting, every section with its mark, and the
    basis of every exemption and of the prerequisite (``held``: the documents the plan was
    made from; ``on``: the exam date)."""
    certificate = catalogue.certificates[certificate_code]
    return {
        "request_id": request_id,
        "certificate": {
            "code": certificate.code,
            "name": certificate.name,
            "department": certificate.department,
            "level": certificate.level,
            "validity_years": certificate.validity_years,
        },
        "candidate": dict(candidate),
        "session": dict(session),
        "sections": _sections(catalogue, certificate, target, results),
        "exemptions": [
            {
                "section": e.section,
                "basis": {
                    "certificate": e.basis.certificate,
                    "number": e.basis.number,
                    "via": exemption_via(
                        catalogue, certificate.code, e.section, e.basis.certificate
                    ),
                },
            }
            for e in target.exemptions
        ],
        "prerequisite": (
            prerequisite(catalogue, certificate.code, held, on) if on is not None else None
        ),
    }


def _sections(
    catalogue: rules.Catalogue,
    certificate: rules.Certificate,
    target: rules.TargetPlan,
    results: Mapping[str, rules.SectionResult],
) -> list[dict[str, Any]]:
    """Every section the certificate requires, with its mark (none when exempt)."""
    exempt = {e.section for e in target.exemptions}
    sections = []
    for requirement in certificate.requirements:
        section = catalogue.sections[requirement.section]
        result = results.get(section.code)
        entry: dict[str, Any] = {
            "code": section.code,
            "name": section.name,
            "kind": section.kind,
            "scoring": section.scoring,
        }
        if section.scoring == "score":
            entry["score"] = (
                _number(result.score) if result and section.code not in exempt else None
            )
        else:
            entry["passed"] = result.passed if result and section.code not in exempt else None
        entry["pass_score"] = _number(requirement.pass_score)
        entry["exempted"] = section.code in exempt
        if result is not None and result.carried_from is not None:
            basis = result.carried_from
            entry["carried_from"] = {
                "registration_id": basis.registration_id,
                "exam_date": basis.exam_date.isoformat(),
            }
        sections.append(entry)
    return sections


def session_data(session: ExamSession) -> dict[str, Any]:
    """``data.session`` of ``issuance.requested``."""
    return {
        "id": session.id,
        "centre": session.centre_code,
        "starts_at": session.starts_at.isoformat(),
        "exam_date": session.exam_date.isoformat(),
        "catalogue_version": session.catalogue_version,
    }


def cancelled_data(*, request_id: str, reason: str) -> dict[str, Any]:
    return {"request_id": request_id, "reason": reason}


def event_body(event_type: str, occurred_at: datetime, data: Mapping[str, Any]) -> bytes:
    """The exact bytes of a webhook body: compact UTF-8 JSON, keys in a fixed order."""
    body = {"type": event_type, "timestamp": occurred_at.isoformat(), "data": data}
    return json.dumps(
        body, ensure_ascii=False, separators=(",", ":"), default=_json_default
    ).encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return as_json_number(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def masked(data: Mapping[str, Any], masker: Any) -> dict[str, Any]:
    """A copy of ``issuance.requested`` data with the ID number masked (for anyone but the
    issuing department)."""
    out = dict(data)
    if "candidate" in out:
        candidate = dict(out["candidate"])
        candidate["id_number"] = masker(candidate["id_number"])
        out["candidate"] = candidate
    return out
