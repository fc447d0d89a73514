"""A section carried from an earlier sitting (resits, docs/api.md §4 rule 7, §11): plain data
shared by the plan that leaves it out, the evaluation that reads it and the webhook that names
its basis. Which sections carry is decided in ``app/rules/resits.py``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class CarryBasis:
    """The earlier sitting a carried section was passed in."""

    registration_id: str
    exam_date: date


@dataclass(frozen=True, slots=True)
class Carried:
    """A section a target does not sit again: its earlier result and where it was passed."""

    target: str
    section: str
    score: Decimal | None
    passed: bool | None
    basis: CarryBasis


def carried_to_dict(c: Carried) -> dict[str, Any]:
    """JSON-ready (as a registration's plan stores it and the API shows it)."""
    value: dict[str, Any] = {"passed": c.passed}
    if c.score is not None:
        integral = c.score == c.score.to_integral_value()
        value = {"score": int(c.score) if integral else float(c.score)}
    return {
        "target": c.target,
        "section": c.section,
        **value,
        "basis": {
            "registration_id": c.basis.registration_id,
            "exam_date": c.basis.exam_date.isoformat(),
        },
    }


def carried_from_dict(d: Mapping[str, Any]) -> Carried:
    basis = d["basis"]
    score = d.get("score")
    return Carried(
        target=d["target"],
        section=d["section"],
        score=None if score is None else Decimal(str(score)),
        passed=d.get("passed"),
        basis=CarryBasis(basis["registration_id"], date.fromisoformat(basis["exam_date"])),
    )
