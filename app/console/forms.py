"""Turning what people type into the services' inputs (no rule of the exam world here)."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from pydantic import ValidationError

from app import clock
from app.console.i18n import _, problem_text
from app.errors import AppError, ProblemItem, validation_items

PASSED_WORDS = {"合格", "通过", "pass", "passed", "p", "y", "yes", "√", "✓"}
FAILED_WORDS = {"不合格", "未通过", "fail", "failed", "f", "n", "no", "×", "✗"}


def local_instant(day: str, at: str, zone_name: str) -> datetime | None:
    """``2026-12-15`` and ``09:00`` read in the centre's zone; None when either is unreadable."""
    try:
        return datetime.combine(date.fromisoformat(day), time.fromisoformat(at)).replace(
            tzinfo=clock.zone(zone_name)
        )
    except ValueError:
        return None


def cell_value(text: str) -> tuple[str, Decimal | bool] | None:
    """A results-grid cell: ``("passed", True)`` for 合格, ``("score", 85)`` for a number, None
    for text that is neither. Whether the form fits the section is the service's to say."""
    value = text.strip().lower()
    if value in PASSED_WORDS:
        return "passed", True
    if value in FAILED_WORDS:
        return "passed", False
    try:
        number = Decimal(value.replace("，", ".").replace(",", "."))
    except InvalidOperation:
        return None
    return ("score", number) if number.is_finite() else None


def held_rows(
    certificates: list[str], numbers: list[str], until: list[str]
) -> list[dict[str, object]]:
    """The declared-held rows of the registration form that have a certificate chosen."""
    rows: list[dict[str, object]] = []
    for code, number, valid in zip(certificates, numbers, until, strict=False):
        if code.strip():
            row: dict[str, object] = {"certificate": code.strip(), "number": number.strip()}
            if valid.strip():
                row["valid_until"] = valid.strip()
            rows.append(row)
    return rows


def problem_lines(exc: AppError) -> list[str]:
    """A problem's sentences for a person: the detail, then each item."""
    lines = [problem_text(exc.detail or exc.title)]
    for item in exc.errors or []:
        where = _field_name(item)
        message = problem_text(item.message)
        lines.append(f"{where}：{message}" if where else message)
    return lines


FIELD_NAMES = {
    "candidate/id_number": "ID number",
    "candidate/name": "Name",
    "targets": "Target certificates",
    "held": "Held certificates",
    "certificates": "Certificates",
    "starts_at": "Start",
    "ends_at": "End",
    "capacity": "Capacity",
    "venue": "Venue",
    "certificate_number": "Certificate number",
    "issued_on": "Issued on",
    "valid_until": "Valid until",
    "reason": "Reason",
}


def _field_name(item: ProblemItem) -> str:
    pointer = (item.pointer or item.parameter or "").strip("/")
    key = re.sub(r"/\d+(/|$)", r"\1", pointer).strip("/")
    name = FIELD_NAMES.get(key) or FIELD_NAMES.get(key.split("/")[0])
    return _(name) if name else (f"/{pointer}" if pointer else "")


def invalid(exc: ValidationError, detail: str) -> AppError:
    from app.errors import Unprocessable

    return Unprocessable(detail, errors=validation_items(exc.errors(), body_prefix=()))
