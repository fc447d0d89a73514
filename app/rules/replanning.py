"""A revoked certificate and the plans that rested on it (docs/api.md §8). No database, no I/O.

A registration's plan rests on a document when one of its exemptions names it as the basis, or
when it is the document that opens a target's prerequisite (directly or counted as held through
equivalences: the one the webhook would name, ``prerequisite_basis``). When such a document is
revoked before the session starts, the plan is made again without it (:func:`replan_without`, and :func:`describe_replan` says why):
a section whose exemption lost its basis is to be sat again, unless another document still
exempts it; a target whose prerequisite is gone stays listed, not eligible with its reasons,
and is no longer sat for. Sections carried from an earlier sitting stay carried.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date

from app.rules.catalogue import Catalogue
from app.rules.certnumber import mask_certificate_number, mask_id_numbers_in
from app.rules.planning import Basis, HeldCertificate, Plan, plan, prerequisite_basis
from app.rules.resits import apply_carried


@dataclass(frozen=True, slots=True, order=True)
class Reliance:
    """One part of a plan that rests on a document: the exemption of ``section`` for
    ``target``, or (``section`` None) the prerequisite of ``target``."""

    target: str
    section: str | None = None


@dataclass(frozen=True)
class Replan:
    """The plan made again without a revoked document, and what rested on it."""

    plan: Plan
    held: tuple[HeldCertificate, ...]
    """The documents the new plan was made from (the revoked one left out)."""
    reliances: tuple[Reliance, ...]


def reliances(
    catalogue: Catalogue, registered: Plan, held: Iterable[HeldCertificate], document: Basis
) -> tuple[Reliance, ...]:
    """What in ``registered`` (made from ``held``) rests on ``document``, in target order."""
    held = list(held)
    out: list[Reliance] = []
    for target in registered.targets:
        out += [
            Reliance(target.certificate, e.section)
            for e in target.exemptions
            if e.basis == document
        ]
        if not target.eligible:
            continue
        opened = prerequisite_basis(catalogue, target.certificate, held, registered.on)
        if opened is not None and Basis(opened[1].certificate, opened[1].number) == document:
            out.append(Reliance(target.certificate))
    return tuple(out)


def sitting_for_eligible(p: Plan) -> Plan:
    """The plan with the registration's sections to sit limited to those an eligible target
    requires (a target that lost its prerequisite is no longer sat for)."""
    needed = {s for t in p.targets if t.eligible for s in t.required_sections}
    return replace(p, required_sections=tuple(s for s in p.required_sections if s in needed))


def replan_without(
    catalogue: Catalogue,
    registered: Plan,
    held: Sequence[HeldCertificate],
    birth_date: date | None,
    document: Basis,
) -> Replan | None:
    """The plan made again on the same day without ``document`` (every held entry with its
    certificate and number, declared or verified), or None when nothing in it rested on that
    document (the plan stands as it is)."""
    found = reliances(catalogue, registered, held, document)
    if not found:
        return None
    remaining = tuple(h for h in held if Basis(h.certificate, h.number) != document)
    targets = [t.certificate for t in registered.targets]
    again = plan(catalogue, targets, remaining, birth_date, registered.on)
    again = apply_carried(again, registered.carried)
    return Replan(sitting_for_eligible(again), remaining, found)


def describe_replan(replanned: Replan, document: Basis, why: str) -> str:
    """The ``reason`` of the registration's ``replans`` entry: which certificate went, why, and
    what the plan lost. The certificate number is masked (it may embed an ID number)."""
    lost = []
    for r in replanned.reliances:
        target = replanned.plan.target(r.target)
        if r.section is None and target.eligible:
            lost.append(f"{r.target}'s prerequisite rests on another certificate")
        elif r.section is None:
            lost.append(f"{r.target} lost its prerequisite and is not eligible")
        elif any(e.section == r.section for e in target.exemptions):
            lost.append(f"{r.target}'s exemption from {r.section} rests on another certificate")
        else:
            lost.append(f"{r.section} is to be sat for {r.target} (its exemption is withdrawn)")
    number = mask_certificate_number(document.number)
    why = mask_id_numbers_in(why)
    return f"{document.certificate} {number} was revoked ({why}): " + "; ".join(lost)
