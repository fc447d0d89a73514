"""What an issuance request rests on, named for the department: the basis of every exemption
and of the prerequisite, with the equivalences it counted through (docs/api.md §9, ``via``).

Pure: it reads the catalogue and the documents the registration's plan was made from (the
``held`` stored with the registration, declared and verified), the same way the plan reads
them (docs/api.md §4 rules 1-2, 5).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from app import rules


@dataclass(frozen=True, slots=True)
class Document:
    certificate: str
    number: str
    valid_until: date | None = None
    verified: bool = False


def documents(held: Iterable[Mapping[str, Any]]) -> list[Document]:
    """The registration's stored ``held`` entries as documents."""
    out = []
    for h in held:
        until = h.get("valid_until")
        out.append(
            Document(
                str(h["certificate"]),
                str(h.get("number") or ""),
                date.fromisoformat(until) if isinstance(until, str) else until,
                bool(h.get("verified")),
            )
        )
    return out


def _steps(catalogue: rules.Catalogue) -> dict[str, list[str]]:
    counts_as: dict[str, list[str]] = {}
    for eq in catalogue.equivalences:
        counts_as.setdefault(eq.held, []).append(eq.counts_as)
    return counts_as


def via(catalogue: rules.Catalogue, held: str, counted: str) -> list[dict[str, str]] | None:
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
    catalogue: rules.Catalogue, target: str, section: str, basis_certificate: str
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


def _rank(distance: int, d: Document) -> tuple[int, int, int, str, str]:
    """The plan's preference: directly held, verified, longest valid, then code and number."""
    lasts = date.max if d.valid_until is None else d.valid_until
    return (distance, 0 if d.verified else 1, -lasts.toordinal(), d.certificate, d.number)


def prerequisite(
    catalogue: rules.Catalogue, target: str, held: Sequence[Document], on: date
) -> dict[str, Any] | None:
    """``{certificate, basis: {certificate, number, via}}`` for the prerequisite that opened
    ``target`` on the exam date, or None when the target has no prerequisite."""
    wanted = catalogue.certificates[target].prerequisites_any_of
    if not wanted:
        return None
    best: tuple[tuple[int, int, int, str, str], str, Document, list[dict[str, str]]] | None = None
    for doc in held:
        if doc.certificate not in catalogue.certificates:
            continue
        if doc.valid_until is not None and doc.valid_until < on:
            continue
        for code in wanted:
            path = via(catalogue, doc.certificate, code)
            if path is None:
                continue
            candidate = (_rank(len(path), doc), code, doc, path)
            if best is None or candidate[0] < best[0]:
                best = candidate
    if best is None:
        return None
    _, code, doc, path = best
    return {
        "certificate": code,
        "basis": {"certificate": doc.certificate, "number": doc.number, "via": path},
    }
