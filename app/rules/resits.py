"""Resits (补考): sections passed in an earlier sitting carried to a later one (docs/api.md §4
rule 7, §11). No database, no I/O.

The service hands over the person's earlier finalised outcomes (:class:`EarlierSitting`, one
per registration and certificate); :func:`carried_sections` says which sections each target
carries, and :func:`apply_carried` takes them out of the plan's sections to sit, for that
target only. Evaluation reads the carried result (``evaluate(..., carried=...)``).

For a target T whose catalogue entry has ``resit: {carry_days, max_resits}``:
- the basis is the person's latest finalised sitting of T that ended ``not_qualified`` (absent
  sittings carry nothing);
- every section T requires that was passed at T's mark there (or that sitting itself carried)
  is carried, if the sitting where it was passed is at most ``carry_days`` before this one;
- a chain of resits starts at the first sitting that carried nothing; at most ``max_resits``
  later sittings carry from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from app.results.states import OutcomeStatus
from app.rules.carried import Carried, CarryBasis
from app.rules.catalogue import Catalogue, Certificate
from app.rules.evaluation import SectionResult, section_passed
from app.rules.planning import Plan


@dataclass(frozen=True, slots=True)
class EarlierSitting:
    """The person's finalised outcome for one certificate in an earlier session."""

    registration_id: str
    exam_date: date
    certificate: str
    status: str
    results: Mapping[str, SectionResult]
    carried: tuple[Carried, ...] = ()
    """What that sitting itself carried for this certificate."""


def _chain_start(sitting: EarlierSitting) -> date:
    """The first sitting of the chain of resits ``sitting`` belongs to."""
    return min([c.basis.exam_date for c in sitting.carried], default=sitting.exam_date)


def _carried_for(
    certificate: Certificate, history: Sequence[EarlierSitting], on: date
) -> tuple[Carried, ...]:
    rule = certificate.resit
    mine = sorted(
        (h for h in history if h.certificate == certificate.code and h.exam_date < on),
        key=lambda h: h.exam_date,
    )
    failed = [h for h in mine if h.status == OutcomeStatus.NOT_QUALIFIED]
    if rule is None or not failed:
        return ()
    basis = failed[-1]
    start = _chain_start(basis)
    resits = sum(1 for h in mine if h.exam_date > start and h.status != OutcomeStatus.ABSENT)
    if resits >= rule.max_resits:
        return ()
    out: list[Carried] = []
    earlier = {c.section: c for c in basis.carried}
    for section in certificate.sections:
        result = basis.results.get(section)
        if result is not None and section_passed(result, certificate.pass_score(section)):
            here = CarryBasis(basis.registration_id, basis.exam_date)
            out.append(Carried(certificate.code, section, result.score, result.passed, here))
        elif section in earlier:
            out.append(replace(earlier[section], target=certificate.code))
    return tuple(c for c in out if (on - c.basis.exam_date).days <= rule.carry_days)


def carried_sections(
    catalogue: Catalogue, targets: Iterable[str], history: Sequence[EarlierSitting], on: date
) -> tuple[Carried, ...]:
    """Every (target, section) carried into a sitting on ``on``, in target then catalogue
    order."""
    return tuple(
        c
        for code in targets
        if code in catalogue.certificates
        for c in _carried_for(catalogue.certificates[code], history, on)
    )


def apply_carried(plan: Plan, carried: Sequence[Carried]) -> Plan:
    """The plan with each carried section left out of its target's sections to sit, and out of
    the registration's sections when no other target still requires it."""
    by_target: dict[str, set[str]] = {}
    for c in carried:
        by_target.setdefault(c.target, set()).add(c.section)
    if not by_target:
        return plan
    targets = tuple(
        replace(
            t,
            required_sections=tuple(
                s for s in t.required_sections if s not in by_target.get(t.certificate, set())
            ),
        )
        for t in plan.targets
    )
    dropped = {
        s
        for s in plan.required_sections
        if all(s not in t.required_sections for t in targets)
        and any(s in old.required_sections for old in plan.targets)
    }
    return replace(
        plan,
        targets=targets,
        required_sections=tuple(s for s in plan.required_sections if s not in dropped),
        carried=plan.carried + tuple(carried),
    )
