"""Which sections a candidate sits, which are exempt and why, and whether each target is open.

docs/api.md §4, rules 1-5, for one candidate on one day:

0. a declared certificate is valid until ``valid_until`` or ``issued_on`` + validity (the
   earlier, when both are given); one with neither is ignored as undated;
1. held certificates whose ``valid_until`` is before the day are ignored (and reported);
2. what is held closes under the equivalences, transitively;
3. a recognition exempts its sections for its target when its ``held`` is (counted as) held;
4. a target requires its sections minus its exemptions; the candidate sits the union;
5. a target is open within its age bounds, when one of its prerequisites is held, and when
   the person's verified record does not already hold it, valid on the day (``already-held``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from app.rules.carried import Carried, carried_from_dict, carried_to_dict
from app.rules.catalogue import Catalogue
from app.rules.idnumber import age_on
from app.rules.reasons import Param, Reason, ReasonCode


@dataclass(frozen=True, slots=True)
class HeldCertificate:
    certificate: str
    number: str
    valid_until: date | None = None
    verified: bool = False
    """Issued through oneexam (a recorded decision), rather than declared by the candidate."""
    issued_on: date | None = None
    """Declared: the day it was issued; it is then valid for the catalogue's validity_years."""
    revoked: bool = False
    """The issuing department revoked this document (the same certificate and number in the
    person's record): it never counts as held (docs/api.md §4)."""


@dataclass(frozen=True, slots=True, order=True)
class Basis:
    """The document an exemption rests on."""

    certificate: str
    number: str


@dataclass(frozen=True, slots=True)
class Exemption:
    target: str
    section: str
    basis: Basis


@dataclass(frozen=True, slots=True)
class IgnoredHeld:
    certificate: str
    number: str
    valid_until: date | None
    reason: Reason


@dataclass(frozen=True, slots=True)
class TargetPlan:
    certificate: str
    eligible: bool
    reasons: tuple[Reason, ...]
    required_sections: tuple[str, ...]
    exemptions: tuple[Exemption, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    on: date
    targets: tuple[TargetPlan, ...]
    required_sections: tuple[str, ...]
    exemptions: tuple[Exemption, ...]
    ignored_held: tuple[IgnoredHeld, ...]
    counted_as_held: tuple[str, ...]
    """Every certificate code held or counted as held (H* of rule 2), in catalogue order."""
    carried: tuple[Carried, ...] = ()
    """Sections carried from an earlier sitting (rule 7), set by ``rules.resits.apply_carried``."""

    @property
    def eligible(self) -> bool:
        return all(t.eligible for t in self.targets)

    def target(self, certificate: str) -> TargetPlan:
        for t in self.targets:
            if t.certificate == certificate:
                return t
        raise KeyError(certificate)


def plan(
    catalogue: Catalogue,
    targets: Iterable[str],
    held: Iterable[HeldCertificate],
    birth_date: date | None,
    on: date,
) -> Plan:
    """Apply rules 1-5. Targets must be catalogue codes; unknown held codes are ignored.

    The result depends only on the sets given, never on their order: targets, sections and
    exemptions come out in catalogue order, and when several documents support the same
    certificate, the one used as basis is chosen by a fixed preference (see ``_preference``).
    """
    target_codes = sorted(set(targets), key=catalogue.certificate_key)
    valid, ignored = _split_held(catalogue, held, on)
    provenance = _close_under_equivalences(catalogue, valid)

    record: dict[str, HeldCertificate] = {}
    for h in sorted((h for h in valid if h.verified), key=lambda h: _preference(0, h)):
        record.setdefault(h.certificate, h)  # the one valid longest names the reason
    target_plans = tuple(
        _plan_target(catalogue, code, provenance, birth_date, on, record.get(code))
        for code in target_codes
    )
    required = {s for t in target_plans for s in t.required_sections}
    return Plan(
        on=on,
        targets=target_plans,
        required_sections=tuple(sorted(required, key=catalogue.section_key)),
        exemptions=tuple(e for t in target_plans for e in t.exemptions),
        ignored_held=ignored,
        counted_as_held=tuple(sorted(provenance, key=catalogue.certificate_key)),
    )


def with_record(
    declared: Iterable[HeldCertificate], record: Iterable[HeldCertificate]
) -> list[HeldCertificate]:
    """What counts as held: the declared documents, then the person's record (certificates
    issued through oneexam) without its revoked ones. A declared document that is a revoked one
    of the record (the same certificate and number, in any letter case, and not issued again
    under that number since) is marked ``revoked``: declaring it again does not bring it back."""
    record = list(record)
    standing = {(h.certificate, h.number.casefold()) for h in record if not h.revoked}
    gone = {(h.certificate, h.number.casefold()) for h in record if h.revoked} - standing
    marked = [
        replace(h, revoked=True) if (h.certificate, h.number.casefold()) in gone else h
        for h in declared
    ]
    return marked + [h for h in record if not h.revoked]


def _split_held(
    catalogue: Catalogue, held: Iterable[HeldCertificate], on: date
) -> tuple[list[HeldCertificate], tuple[IgnoredHeld, ...]]:
    valid: list[HeldCertificate] = []
    ignored: set[IgnoredHeld] = set()
    for declared in held:
        if declared.certificate not in catalogue.certificates:
            version = catalogue.version if catalogue.version is not None else "unsaved"
            reason = Reason.of(
                ReasonCode.NOT_IN_CATALOGUE, certificate=declared.certificate, version=version
            )
            ignored.add(
                IgnoredHeld(declared.certificate, declared.number, declared.valid_until, reason)
            )
            continue
        if declared.revoked:
            reason = Reason.of(ReasonCode.REVOKED, certificate=declared.certificate)
            ignored.add(
                IgnoredHeld(declared.certificate, declared.number, declared.valid_until, reason)
            )
            continue
        h = dated(catalogue, declared)
        if h is None:
            reason = Reason.of(ReasonCode.UNDATED, certificate=declared.certificate)
            ignored.add(IgnoredHeld(declared.certificate, declared.number, None, reason))
        elif h.valid_until is not None and h.valid_until < on:
            reason = Reason.of(
                ReasonCode.EXPIRED, valid_until=h.valid_until.isoformat(), on=on.isoformat()
            )
            ignored.add(IgnoredHeld(h.certificate, h.number, h.valid_until, reason))
        else:
            valid.append(h)
    order = sorted(ignored, key=lambda i: (i.certificate, i.number, i.valid_until or date.max))
    return valid, tuple(order)


def dated(catalogue: Catalogue, h: HeldCertificate) -> HeldCertificate | None:
    """Rule 0: the certificate with the last day it is valid, or None when it is undated.

    A declared certificate is valid until ``valid_until``, or until ``issued_on`` plus the
    catalogue's ``validity_years`` (null: lifelong). A declared ``valid_until`` later than
    ``issued_on`` + validity cannot extend it: the earlier of the two counts (clamped, so a
    typo or an inflated date never grants more than the catalogue allows). One with neither is
    undated. A verified certificate carries the date its department decided.
    """
    if h.verified or h.issued_on is None:
        return h if h.verified or h.valid_until is not None else None
    limit = catalogue.certificates[h.certificate].valid_until(h.issued_on)
    if h.valid_until is not None and (limit is None or h.valid_until < limit):
        return h
    return replace(h, valid_until=limit)


Rank = tuple[int, int, int, str, str]


def _preference(distance: int, h: HeldCertificate) -> Rank:
    """Smaller is better: directly held, then verified, then longest valid, then by code/number."""
    lasts = date.max if h.valid_until is None else h.valid_until
    return (distance, 0 if h.verified else 1, -lasts.toordinal(), h.certificate, h.number)


def _ranked_provenance(
    catalogue: Catalogue, valid: Sequence[HeldCertificate]
) -> dict[str, tuple[Rank, HeldCertificate]]:
    """H*: every code held or counted as held, with the document that best supports it and its
    rank (the equivalence distance first: see ``_preference``)."""
    counts_as: dict[str, list[str]] = {}
    for eq in catalogue.equivalences:
        counts_as.setdefault(eq.held, []).append(eq.counts_as)

    best: dict[str, tuple[Rank, HeldCertificate]] = {}
    for h in valid:
        frontier, seen, distance = [h.certificate], {h.certificate}, 0
        while frontier:
            for code in frontier:
                rank = _preference(distance, h)
                if code not in best or rank < best[code][0]:
                    best[code] = (rank, h)
            nxt = [c for code in frontier for c in counts_as.get(code, ()) if c not in seen]
            seen.update(nxt)
            frontier, distance = nxt, distance + 1
    return best


def _close_under_equivalences(
    catalogue: Catalogue, valid: Sequence[HeldCertificate]
) -> dict[str, HeldCertificate]:
    """H*: every code held or counted as held, mapped to the document that best supports it."""
    return {code: h for code, (_, h) in _ranked_provenance(catalogue, valid).items()}


def prerequisite_basis(
    catalogue: Catalogue, target: str, held: Iterable[HeldCertificate], on: date
) -> tuple[str, HeldCertificate] | None:
    """The prerequisite of ``target`` that is held on ``on`` and the document it rests on, by
    the plan's own preference (rules 0-2, 5); None when the target has no prerequisite or none
    is held. This is what the webhook names as the prerequisite's basis."""
    wanted = catalogue.certificates[target].prerequisites_any_of
    if not wanted:
        return None
    valid, _ = _split_held(catalogue, held, on)
    ranked = _ranked_provenance(catalogue, valid)
    options = [(ranked[code][0], code) for code in wanted if code in ranked]
    if not options:
        return None
    _, code = min(options)
    return code, ranked[code][1]


def _exempt_sections(
    catalogue: Catalogue, code: str, provenance: Mapping[str, HeldCertificate]
) -> dict[str, Basis]:
    """Rule 3 for one target: each exempt section and its basis. Two recognitions may exempt
    the same section; the basis that sorts first is kept, so the choice does not depend on the
    order the recognitions are listed in."""
    exempt: dict[str, Basis] = {}
    for rec in catalogue.recognitions:
        if rec.target != code or rec.held not in provenance:
            continue
        doc = provenance[rec.held]
        basis = Basis(doc.certificate, doc.number)
        for section in rec.exempt_sections:
            current = exempt.get(section)
            if current is None or basis < current:
                exempt[section] = basis
    return exempt


def _plan_target(
    catalogue: Catalogue,
    code: str,
    provenance: Mapping[str, HeldCertificate],
    birth_date: date | None,
    on: date,
    already: HeldCertificate | None = None,
) -> TargetPlan:
    """One target's exemptions and eligibility. ``already``: a certificate of the person's
    verified record that is this target itself, valid on ``on`` (the target is then refused)."""
    certificate = catalogue.certificates[code]
    exempt = _exempt_sections(catalogue, code, provenance)
    reasons: list[Reason] = []
    if birth_date is not None:
        age = age_on(birth_date, on)
        about: dict[str, Param] = {"age": age, "on": on.isoformat(), "certificate": code}
        if certificate.min_age is not None and age < certificate.min_age:
            reasons.append(Reason.of(ReasonCode.TOO_YOUNG, min_age=certificate.min_age, **about))
        if certificate.max_age is not None and age > certificate.max_age:
            reasons.append(Reason.of(ReasonCode.TOO_OLD, max_age=certificate.max_age, **about))
    if already is not None:
        reasons.append(Reason.of(ReasonCode.ALREADY_HELD, certificate=code, on=on.isoformat()))
    prerequisites = certificate.prerequisites_any_of
    if prerequisites and not any(p in provenance for p in prerequisites):
        reasons.append(
            Reason.of(ReasonCode.MISSING_PREREQUISITE, certificate=code, any_of=prerequisites)
        )

    return TargetPlan(
        certificate=code,
        eligible=not reasons,
        reasons=tuple(reasons),
        required_sections=tuple(
            sorted((s for s in certificate.sections if s not in exempt), key=catalogue.section_key)
        ),
        exemptions=tuple(
            Exemption(code, section, exempt[section])
            for section in sorted(exempt, key=catalogue.section_key)
        ),
    )


def exemption_to_dict(e: Exemption) -> dict[str, Any]:
    return {
        "target": e.target,
        "section": e.section,
        "basis": {"certificate": e.basis.certificate, "number": e.basis.number},
    }


def exemption_from_dict(d: Mapping[str, Any]) -> Exemption:
    return Exemption(
        d["target"], d["section"], Basis(d["basis"]["certificate"], d["basis"]["number"])
    )


def plan_to_dict(p: Plan) -> dict[str, Any]:
    """Plain JSON-ready data; :func:`plan_from_dict` gives the same plan back."""
    return {
        "on": p.on.isoformat(),
        "targets": [
            {
                "certificate": t.certificate,
                "eligible": t.eligible,
                "reasons": [r.to_dict() for r in t.reasons],
                "required_sections": list(t.required_sections),
                "exemptions": [exemption_to_dict(e) for e in t.exemptions],
            }
            for t in p.targets
        ],
        "required_sections": list(p.required_sections),
        "exemptions": [exemption_to_dict(e) for e in p.exemptions],
        "ignored_held": [
            {
                "certificate": i.certificate,
                "number": i.number,
                "valid_until": i.valid_until.isoformat() if i.valid_until else None,
                "reason": i.reason.to_dict(),
            }
            for i in p.ignored_held
        ],
        "counted_as_held": list(p.counted_as_held),
        "carried": [carried_to_dict(c) for c in p.carried],
    }


def plan_from_dict(d: Mapping[str, Any]) -> Plan:
    return Plan(
        on=date.fromisoformat(d["on"]),
        targets=tuple(
            TargetPlan(
                certificate=t["certificate"],
                eligible=t["eligible"],
                reasons=tuple(Reason.from_stored(r) for r in t["reasons"]),
                required_sections=tuple(t["required_sections"]),
                exemptions=tuple(exemption_from_dict(e) for e in t["exemptions"]),
            )
            for t in d["targets"]
        ),
        required_sections=tuple(d["required_sections"]),
        exemptions=tuple(exemption_from_dict(e) for e in d["exemptions"]),
        ignored_held=tuple(
            IgnoredHeld(
                i["certificate"],
                i["number"],
                date.fromisoformat(i["valid_until"]) if i["valid_until"] else None,
                Reason.from_stored(i["reason"]),
            )
            for i in d["ignored_held"]
        ),
        counted_as_held=tuple(d["counted_as_held"]),
        carried=tuple(carried_from_dict(c) for c in d.get("carried", ())),
    )
