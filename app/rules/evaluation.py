"""One sitting, many pass marks: docs/api.md §4, rule 6.

A candidate qualifies for a target when present and every section the target requires of them
(its plan, after exemptions) is passed at that target's own pass mark. The same score can
qualify for one department and not another.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from app.i18n import _
from app.results.states import OutcomeStatus
from app.rules.carried import Carried, CarryBasis
from app.rules.catalogue import Catalogue, Certificate, Section
from app.rules.planning import Exemption, Plan, TargetPlan
from app.rules.reasons import Reason, ReasonCode


@dataclass(frozen=True, slots=True)
class SectionResult:
    section: str
    score: Decimal | None = None
    passed: bool | None = None
    carried_from: CarryBasis | None = None
    """Set when the result was carried from an earlier sitting (rule 7)."""


@dataclass(frozen=True, slots=True)
class SectionFailure:
    section: str
    score: Decimal | None
    passed: bool | None
    pass_score: Decimal | None
    missing: bool = False
    withdrawn: bool = False
    """The section was exempt, and the exemption lost its basis before finalisation."""

    @property
    def code(self) -> ReasonCode:
        if self.withdrawn:
            return ReasonCode.EXEMPTION_WITHDRAWN
        return ReasonCode.NOT_SAT if self.missing else ReasonCode.BELOW_PASS_MARK

    @property
    def reason(self) -> Reason:
        return Reason.of(self.code, section=self.section)


@dataclass(frozen=True)
class Recheck:
    """What working a plan out again at finalisation found (docs/api.md §8): targets no longer
    eligible (with the reasons), and per target the exempt sections whose basis is gone."""

    not_eligible: Mapping[str, tuple[Reason, ...]] = field(default_factory=dict)
    withdrawn: Mapping[str, frozenset[str]] = field(default_factory=dict)
    rebased: Mapping[str, tuple[Exemption, ...]] = field(default_factory=dict)
    """Per target, exemptions that still stand but now rest on another document (the one
    evaluation names as their basis)."""


def recheck(registered: Plan, current: Plan) -> Recheck:
    """Compare the plan made at registration with the same computation on today's holdings."""
    now = {t.certificate: t for t in current.targets}
    not_eligible: dict[str, tuple[Reason, ...]] = {}
    withdrawn: dict[str, frozenset[str]] = {}
    rebased: dict[str, tuple[Exemption, ...]] = {}
    for target in registered.targets:
        again = now.get(target.certificate)
        if again is None:
            continue
        if target.eligible and not again.eligible:
            not_eligible[target.certificate] = again.reasons
        lost = {e.section for e in target.exemptions} - {e.section for e in again.exemptions}
        if lost:
            withdrawn[target.certificate] = frozenset(lost)
        kept = {e.section for e in target.exemptions} - lost
        still = tuple(e for e in again.exemptions if e.section in kept)
        if still != tuple(e for e in target.exemptions if e.section in kept):
            rebased[target.certificate] = still
    return Recheck(not_eligible, withdrawn, rebased)


@dataclass(frozen=True, slots=True)
class Outcome:
    certificate: str
    department: str
    status: OutcomeStatus
    failed_sections: tuple[SectionFailure, ...]
    exemptions: tuple[Exemption, ...]
    reasons: tuple[Reason, ...] = ()
    """Why the target is ``not_eligible`` (found again at finalisation)."""
    carried: tuple[Carried, ...] = ()
    """The earlier results a qualified or not qualified target was judged on (rule 7)."""

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
            return "score", _("%(code)s is pass/fail: send passed, not score", code=section.code)
        if passed is None:
            return "passed", _("%(code)s is pass/fail: send passed", code=section.code)
        return None
    if passed is not None:
        return "passed", _("%(code)s is scored: send score, not passed", code=section.code)
    if score is None:
        return "score", _("%(code)s is scored: send score", code=section.code)
    if section.max_score is not None and score > section.max_score:
        return "score", _(
            "above %(code)s's maximum %(max_score)s",
            code=section.code,
            max_score=_number_text(section.max_score),
        )
    if score < 0:
        return "score", _("a score cannot be negative")
    return None


def section_passed(result: SectionResult, pass_score: Decimal | None) -> bool:
    if pass_score is None:  # a pass_fail section
        return bool(result.passed)
    return result.score is not None and result.score >= pass_score


def _evaluate_target(
    certificate: Certificate,
    target: TargetPlan,
    results: Mapping[str, SectionResult],
    absent_from: Collection[str],
    absent: bool,
    again: Recheck,
) -> Outcome:
    if not target.eligible:  # re-planned after a revocation: it lost its prerequisite
        status, reasons = OutcomeStatus.NOT_ELIGIBLE, target.reasons
        return Outcome(certificate.code, certificate.department, status, (), (), reasons)
    if absent or any(section in absent_from for section in target.required_sections):
        return Outcome(
            certificate.code, certificate.department, OutcomeStatus.ABSENT, (), target.exemptions
        )
    if target.certificate in again.not_eligible:
        status, reasons = OutcomeStatus.NOT_ELIGIBLE, again.not_eligible[target.certificate]
        return Outcome(certificate.code, certificate.department, status, (), (), reasons)
    lost = again.withdrawn.get(target.certificate, frozenset())
    failures = [
        SectionFailure(s, None, None, certificate.pass_score(s), withdrawn=True)
        for s in certificate.sections
        if s in lost
    ]
    for section in target.required_sections + tuple(
        s for s in results if s not in target.required_sections and results[s].carried_from
    ):
        pass_score = certificate.pass_score(section)
        result = results.get(section)
        if result is None:
            failures.append(SectionFailure(section, None, None, pass_score, missing=True))
        elif not section_passed(result, pass_score):
            failures.append(SectionFailure(section, result.score, result.passed, pass_score))
    status = OutcomeStatus.NOT_QUALIFIED if failures else OutcomeStatus.QUALIFIED
    kept = again.rebased.get(target.certificate) or tuple(
        e for e in target.exemptions if e.section not in lost
    )
    return Outcome(certificate.code, certificate.department, status, tuple(failures), kept)


def evaluate(
    catalogue: Catalogue,
    plan: Plan,
    results: Mapping[str, SectionResult],
    *,
    absent: bool = False,
    absent_from: Collection[str] = frozenset(),
    certificates: Collection[str] | None = None,
    again: Recheck | None = None,
) -> tuple[Outcome, ...]:
    """One outcome per target of the plan, in the plan's order.

    ``results`` maps section code to the candidate's current result; a required section with no
    result counts as failed (``missing``). ``absent``: the candidate did not sit at all, every
    target is ``absent``. ``absent_from``: sections the candidate did not sit; a target requiring
    one of them is ``absent``, the others are evaluated as usual. ``certificates``: evaluate only
    these targets (a release of some certificates of the session); None: every target.
    ``again``: what re-planning at finalisation found (a lost prerequisite makes the target
    ``not_eligible``; a withdrawn exemption counts as not sat).
    """
    outcomes = []
    for target in plan.targets:
        if certificates is not None and target.certificate not in certificates:
            continue
        certificate = catalogue.certificates[target.certificate]
        mine = target_results(plan, target.certificate, results)
        outcome = _evaluate_target(
            certificate, target, mine, absent_from, absent, again or Recheck()
        )
        if outcome.status in (OutcomeStatus.QUALIFIED, OutcomeStatus.NOT_QUALIFIED):
            carried = tuple(c for c in plan.carried if c.target == target.certificate)
            outcome = replace(outcome, carried=carried)
        outcomes.append(outcome)
    return tuple(outcomes)


def target_results(
    plan: Plan, certificate: str, results: Mapping[str, SectionResult]
) -> dict[str, SectionResult]:
    """The results one target is judged on: this sitting's, and those it carried (rule 7)."""
    mine = dict(results)
    for c in plan.carried:
        if c.target == certificate:
            mine[c.section] = SectionResult(c.section, c.score, c.passed, carried_from=c.basis)
    return mine


def missing_results(
    plan: Plan,
    results: Collection[str],
    *,
    absent_from: Collection[str] = frozenset(),
    certificates: Collection[str] | None = None,
) -> tuple[str, ...]:
    """Sections the targets being released need and that have no result (nor an absence).

    ``results`` holds the sections with a result. In the plan's section order.
    """
    needed = {
        section
        for target in plan.targets
        if certificates is None or target.certificate in certificates
        for section in target.required_sections
    }
    return tuple(
        s
        for s in plan.required_sections
        if s in needed and s not in results and s not in absent_from
    )
