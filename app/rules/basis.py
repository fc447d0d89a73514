"""What an issuance request rests on, named for the department: the basis of every exemption
and of the prerequisite, with the equivalences it counted through (docs/api.md §9, ``via``).

It reads the catalogue and the documents a registration's plan was made from (the ``held``
stored with the registration, declared and verified), the same way the plan reads them
(docs/api.md §4 rules 0-2, 5).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from app.rules.catalogue import Catalogue
from app.rules.planning import HeldCertificate, prerequisite_basis


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def documents(held: Iterable[Mapping[str, Any]]) -> list[HeldCertificate]:
    """A registration's stored ``held`` entries (declared and verified) as documents."""
    return [
        HeldCertificate(
            str(h["certificate"]),
            str(h.get("number") or ""),
            _date(h.get("valid_until")),
            verified=bool(h.get("verified")),
            issued_on=_date(h.get("issued_on")),
        )
        for h in held
    ]


def _steps(catalogue: Catalogue) -> dict[str, list[str]]:
    counts_as: dict[str, list[str]] = {}
    for eq in catalogue.equivalences:
        counts_as.setdefault(eq.held, []).append(eq.counts_as)
    return counts_as


def via(catalogue: Catalogue, held: str, counted: str) -> list[dict[str, str]] | None:
    """The shortest chain of equivalences by which holding ``held`` counts as holding
    ``counted`` (``[]`` when they are the same; None when it does not)."""
    counts_as = _steps(catalogue)
    paths: dict[str, list[dict[str, str]]] = {held: []}
    frontier = [held]
    while frontier:
        if counted in paths:
            return paths[counted]
        nxt = []
        for code in frontier:
            for target in counts_as.get(code, ()):
                if target not in paths:
                    paths[target] = [*paths[code], {"held": code, "counts_as": target}]
                    nxt.append(target)
        frontier = nxt
    return paths.get(counted)


def exemption_via(
    catalogue: Catalogue, target: str, section: str, basis_certificate: str
) -> list[dict[str, str]]:
    """``via`` of an exemption: through which recognised certificate the basis counted."""
    best: list[dict[str, str]] | None = None
    for rec in catalogue.recognitions:
        if rec.target != target or section not in rec.exempt_sections:
            continue
        path = via(catalogue, basis_certificate, rec.held)
        if path is not None and (best is None or len(path) < len(best)):
            best = path
    return best or []


def prerequisite(
    catalogue: Catalogue, target: str, held: Sequence[HeldCertificate], on: date
) -> dict[str, Any] | None:
    """``{certificate, basis: {certificate, number, via}}`` for the prerequisite that opened
    ``target`` on the exam date, or None when the target has no prerequisite (or none is
    held). The document is the one the plan itself counts (``rules.prerequisite_basis``)."""
    found = prerequisite_basis(catalogue, target, held, on)
    if found is None:
        return None
    code, doc = found
    return {
        "certificate": code,
        "basis": {
            "certificate": doc.certificate,
            "number": doc.number,
            "via": via(catalogue, doc.certificate, code) or [],
        },
    }
