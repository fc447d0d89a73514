"""Is a batch of results recordable? docs/api.md §7 ("recorded once"), decided without I/O.

The service loads what the batch refers to (the registrations it names, the results already
stored for them, the sections of the session's catalogue) and hands it here; what comes back
says, row by row, whether the row is invalid (422), contradicts a stored result (409), repeats
one (unchanged) or is new. Every row lands in exactly one of those four.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from app.i18n import _
from app.rules.catalogue import Section
from app.rules.evaluation import result_problem


class ResultRow(Protocol):
    """One row of a batch, as the client sent it (``ResultIn`` fits)."""

    @property
    def registration_id(self) -> str: ...
    @property
    def section(self) -> str: ...
    @property
    def score(self) -> Decimal | None: ...
    @property
    def passed(self) -> bool | None: ...


@dataclass(frozen=True, slots=True)
class Sitting:
    """What a batch needs to know of one registration: is it absent, which sections it sits
    (after exemptions), and which of those it was marked absent from."""

    absent: bool
    sits: frozenset[str]
    absent_from: frozenset[str] = frozenset()
    withdrawn: bool = False
    """Withdrawn before the session started: it takes no results."""


@dataclass(frozen=True, slots=True)
class RowProblem:
    pointer: str
    message: str


StoredValue = tuple[Decimal | None, bool | None]


@dataclass(slots=True)
class BatchCheck:
    """Row by row: ``invalid`` and ``conflicts`` (each with a JSON pointer into the batch),
    ``unchanged`` (how many rows repeat a stored result) and ``new`` (indexes of rows to write)."""

    invalid: list[RowProblem] = field(default_factory=list)
    conflicts: list[RowProblem] = field(default_factory=list)
    unchanged: int = 0
    new: list[int] = field(default_factory=list)

    @property
    def recordable(self) -> bool:
        return not self.invalid and not self.conflicts


def value_of(score: Decimal | None, passed: bool | None) -> Decimal | bool | None:
    """A result's one value: the score of a scored section, else passed."""
    return score if score is not None else passed


def _number(value: Decimal | bool | None) -> str:
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else str(value)
    return str(value)


def _row_problem(
    row: ResultRow, sitting: Sitting | None, sections: Mapping[str, Section]
) -> tuple[str, str] | None:
    """(field, message) when the row cannot be recorded whatever is stored."""
    if sitting is None:
        return "registration_id", _("no such registration in this session")
    if sitting.withdrawn:
        return "registration_id", _("the registration is withdrawn")
    if sitting.absent:
        return "registration_id", _("the candidate is marked absent")
    if row.section in sitting.absent_from:
        return "section", _("the candidate is marked absent from %(section)s", section=row.section)
    if row.section not in sitting.sits:
        return "section", _("this registration does not sit %(section)s", section=row.section)
    return result_problem(sections[row.section], row.score, row.passed)


def check_result_batch(
    rows: Sequence[ResultRow],
    *,
    sittings: Mapping[str, Sitting],
    stored: Mapping[tuple[str, str], StoredValue],
    sections: Mapping[str, Section],
) -> BatchCheck:
    """Judge every row of a batch against the registrations it names and the stored results.

    ``sittings`` holds the registrations of this session the batch names (others are unknown),
    ``stored`` the value recorded for each (registration, section) already, ``sections`` the
    session's catalogue sections. A (registration, section) named twice is invalid the second
    time, whatever its value.
    """
    check = BatchCheck()
    seen: set[tuple[str, str]] = set()
    for k, row in enumerate(rows):
        at = f"/results/{k}"
        key = (row.registration_id, row.section)
        problem = _row_problem(row, sittings.get(row.registration_id), sections)
        if problem is not None:
            check.invalid.append(RowProblem(f"{at}/{problem[0]}", problem[1]))
        elif key in seen:
            check.invalid.append(
                RowProblem(at, _("this registration and section appear twice in the batch"))
            )
        elif key in stored:
            seen.add(key)
            if stored[key] == (row.score, row.passed):
                check.unchanged += 1
            else:
                was = _number(value_of(*stored[key]))
                check.conflicts.append(
                    RowProblem(
                        at,
                        _(
                            "contradicts the result recorded for %(section)s (%(was)s); amend it instead",
                            section=row.section,
                            was=was,
                        ),
                    )
                )
        else:
            seen.add(key)
            check.new.append(k)
    return check
