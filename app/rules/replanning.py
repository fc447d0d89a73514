"""A revoked certificate and the plans that rested on it (docs/api.md §8). No database, no I/O.

A registration's plan rests on a document when one of its exemptions names it as the basis, or
when it is the document that opens a target's prerequisite (directly or counted as held through
equivalences: the one the webhook would name, ``prerequisite_basis``). When such a document is
revoked before the session starts, the plan is made again without it (:func:`replan_without`,
and :func:`describe_replan` says why): a section whose exemption lost its basis is to be sat
again, unless another document still exempts it; a target whose prerequisite is gone stays
listed, not eligible with its reasons, and is no longer sat for. Sections carried from an earlier sitting stay carried.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Any

from app.i18n import Message, _
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


class Loss(StrEnum):
    """What a re-planned target lost, as a code (its sentence is :data:`LOSSES`)."""

    PREREQUISITE_KEPT = "prerequisite-kept"
    PREREQUISITE_LOST = "prerequisite-lost"
    EXEMPTION_KEPT = "exemption-kept"
    EXEMPTION_LOST = "exemption-lost"


LOSSES: Mapping[Loss, Message] = {
    Loss.PREREQUISITE_KEPT: _("%(target)s's prerequisite rests on another certificate"),
    Loss.PREREQUISITE_LOST: _("%(target)s lost its prerequisite and is not eligible"),
    Loss.EXEMPTION_KEPT: _("%(target)s's exemption from %(section)s rests on another certificate"),
    Loss.EXEMPTION_LOST: _("%(section)s is to be sat for %(target)s (its exemption is withdrawn)"),
}


def describe_replan(replanned: Replan, document: Basis, why: str) -> dict[str, Any]:
    """The registration's ``replans`` entry (without its time): which certificate went, why,
    and what the plan lost, as codes with their values (:func:`replan_reason` makes the
    sentence, in the reader's language). The certificate number is masked (it may embed an ID
    number)."""
    lost = []
    for r in replanned.reliances:
        target = replanned.plan.target(r.target)
        if r.section is None:
            loss = Loss.PREREQUISITE_KEPT if target.eligible else Loss.PREREQUISITE_LOST
        elif any(e.section == r.section for e in target.exemptions):
            loss = Loss.EXEMPTION_KEPT
        else:
            loss = Loss.EXEMPTION_LOST
        lost.append({"code": loss, "target": r.target, "section": r.section})
    return {
        "certificate": document.certificate,
        "number": mask_certificate_number(document.number),
        "why": mask_id_numbers_in(why),
        "lost": lost,
    }


def replan_reason(entry: Mapping[str, Any]) -> str:
    """A stored ``replans`` entry as one sentence, a translatable :class:`Message` (an entry
    stored before its parts were kept is its ``reason`` as written)."""
    if "lost" not in entry:
        return str(entry.get("reason", ""))
    parts = [LOSSES[Loss(item["code"])].filled(**item) for item in entry["lost"]]
    return _(
        "%(certificate)s %(number)s was revoked (%(why)s): %(lost)s",
        certificate=entry["certificate"],
        number=entry["number"],
        why=entry["why"],
        lost=_joined(parts),
    )


def _joined(parts: Sequence[Message]) -> Message:
    """Parts said one after the other ("a; b; c"), the separator in the reader's language."""
    if len(parts) == 1:
        return parts[0]
    return _("%(first)s; %(rest)s", first=parts[0], rest=_joined(parts[1:]))
