"""One sitting, many pass marks: docs/api.md §4, rule 6.

A candidate qualifies for a target when present and every section the target requires of them
(its plan, after exemptions) is passed at that target's own pass mark. The same score can
qualify for one department and not another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from app.results.states import OutcomeStatus
from app.rules.catalogue import Catalogue, Section
from app.rules.planning import Exemption, Plan


@dataclass(frozen=True, slots=True)
class SectionResult:
    section: str
    score: Decimal | None = None
    passed: bool | None = None


@dataclass(frozen=True, slots=True)
class SectionFailure:
    section: str
    score: Decimal | None
    passed: bool | None
    pass_score: Decimal | None
    missing: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    certificate: str
    department: str
    status: OutcomeStatus
    failed_sections: tuple[SectionFailure, ...]
    exemptions: tuple[Exemption, ...]

    @property
    def qualified(self) -> bool:
        return self.status == OutcomeStatus.QUALIFIED


def _number_text(value: Decimal) -> str:
    return str(int(value)) if value == value.to_integral_value() else str(value)


def result_problem(
    section: Section, score: Decimal | None, passed: bool | None
) -> tuple[str, str] | None:
    """Whether a value fits the section's scoring: ``(field, message)`` if it does not.

    Scored sections take a score from 0 to their maximum; pass/fail sections take ``passed``.
    """
    if section.scoring == "pass_fail":
        if score is not None:
            return "score", f"{section.code} is pass/fail: send passed, not score"
        if passed is None:
            return "passed", f"{section.code} is pass/fail: send passed"
        return None
    if passed is not None:
        return "passed", f"{section.code} is scored: send score, not passed"
    if score is None:
        return "score", f"{section.code} is scored: send score"
    if section.max_score is not None and score > section.max_score:
        return "score", f"above {section.code}'s maximum {_number_text(section.max_score)}"
    if score < 0:
        return "score", "a score cannot be negative"
    return None


def section_passed(result: SectionResult, pass_score: Decimal | None) -> bool:
    if pass_score is None:  # a pass_fail section
        return bool(result.passed)
    return result.score is not None and result.score >= pass_score


def evaluate(
    catalogue: Catalogue,
    plan: Plan,
    results: Mapping[str, SectionResult],
    *,
    absent: bool = False,
) -> tuple[Outcome, ...]:
    """One outcome per target of the plan, in the plan's order.

    ``results`` maps section code to the candidate's current result; a required section with no
    result counts as failed (``missing``).
    """
    outcomes = []
    for target in plan.targets:
        certificate = catalogue.certificates[target.certificate]
        if absent:
            outcomes.append(
                Outcome(
                    certificate.code,
                    certificate.department,
                    OutcomeStatus.ABSENT,
                    (),
                    target.exemptions,
                )
            )
            continue
        failures = []
        for section in target.required_sections:
            pass_score = certificate.pass_score(section)
            result = results.get(section)
            if result is None:
                failures.append(SectionFailure(section, None, None, pass_score, missing=True))
            elif not section_passed(result, pass_score):
                failures.append(SectionFailure(section, result.score, result.passed, pass_score))
        status = OutcomeStatus.NOT_QUALIFIED if failures else OutcomeStatus.QUALIFIED
        outcomes.append(
            Outcome(
                certificate.code, certificate.department, status, tuple(failures), target.exemptions
            )
        )
    return tuple(outcomes)
