"""The catalogue as plain immutable data, and the semantic checks a document must pass.

Shape checks (types, required fields) belong to the API schemas; what is here needs the whole
document at once: duplicate codes, references between parts, pass marks against maxima, whether a
recognition exempts something its target requires, equivalence cycles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from app.i18n import _

SectionKind = Literal["theory", "practical", "training"]
Scoring = Literal["score", "pass_fail"]


@dataclass(frozen=True, slots=True)
class Section:
    code: str
    name: str
    kind: SectionKind
    scoring: Scoring
    max_score: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Requirement:
    section: str
    pass_score: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Resit:
    """How long passed sections carry to a later sitting, and for how many (rule 7)."""

    carry_days: int
    max_resits: int


@dataclass(frozen=True, slots=True)
class Certificate:
    code: str
    department: str
    name: str
    occupation: str | None = None
    level: int | None = None
    validity_years: int | None = None
    min_age: int | None = None
    max_age: int | None = None
    requirements: tuple[Requirement, ...] = ()
    prerequisites_any_of: tuple[str, ...] = ()
    resit: Resit | None = None
    _pass_scores: Mapping[str, Decimal | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        scores = {r.section: r.pass_score for r in self.requirements}
        object.__setattr__(self, "_pass_scores", scores)

    def pass_score(self, section: str) -> Decimal | None:
        """This certificate's pass mark for a section (None: pass/fail)."""
        return self._pass_scores[section]

    def valid_until(self, issued_on: date) -> date | None:
        """Last day of validity for a certificate issued on a day (None: lifelong).

        Six years from 2026-12-20 runs to 2032-12-19; from 29 February, to 28 February.
        """
        if self.validity_years is None:
            return None
        try:
            anniversary = issued_on.replace(year=issued_on.year + self.validity_years)
        except ValueError:  # 29 February in a year that has none
            anniversary = issued_on.replace(
                year=issued_on.year + self.validity_years, day=28
            ) + timedelta(days=1)
        return anniversary - timedelta(days=1)

    @property
    def sections(self) -> tuple[str, ...]:
        return tuple(r.section for r in self.requirements)


@dataclass(frozen=True, slots=True)
class Recognition:
    held: str
    target: str
    exempt_sections: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Equivalence:
    held: str
    counts_as: str


@dataclass(frozen=True)
class Catalogue:
    """One immutable catalogue version, indexed for the rules."""

    sections: Mapping[str, Section]
    certificates: Mapping[str, Certificate]
    recognitions: tuple[Recognition, ...] = ()
    equivalences: tuple[Equivalence, ...] = ()
    version: int | None = None
    _section_order: Mapping[str, int] = field(init=False, repr=False, compare=False)
    _certificate_order: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_section_order", {c: i for i, c in enumerate(self.sections)})
        object.__setattr__(
            self, "_certificate_order", {c: i for i, c in enumerate(self.certificates)}
        )

    def section_key(self, code: str) -> int:
        return self._section_order[code]

    def certificate_key(self, code: str) -> int:
        return self._certificate_order[code]

    def sections_of(self, certificates: Iterable[str]) -> tuple[str, ...]:
        """Every section any of these certificates requires, in catalogue order."""
        codes = {s for c in certificates for s in self.certificates[c].sections}
        return tuple(sorted(codes, key=self.section_key))

    @classmethod
    def from_document(cls, document: Mapping[str, Any], version: int | None = None) -> Catalogue:
        """Build from a document that passed :func:`catalogue_problems` with no problems."""
        sections = {
            s["code"]: Section(
                code=s["code"],
                name=s["name"],
                kind=s["kind"],
                scoring=s["scoring"],
                max_score=_decimal(s.get("max_score")),
            )
            for s in document.get("sections", [])
        }
        certificates = {
            c["code"]: Certificate(
                code=c["code"],
                department=c["department"],
                name=c["name"],
                occupation=c.get("occupation"),
                level=c.get("level"),
                validity_years=c.get("validity_years"),
                min_age=c.get("min_age"),
                max_age=c.get("max_age"),
                requirements=tuple(
                    Requirement(r["section"], _decimal(r.get("pass_score")))
                    for r in c.get("requirements", [])
                ),
                prerequisites_any_of=tuple(c.get("prerequisites_any_of") or ()),
                resit=Resit(c["resit"]["carry_days"], c["resit"]["max_resits"])
                if c.get("resit")
                else None,
            )
            for c in document.get("certificates", [])
        }
        recognitions = tuple(
            Recognition(r["held"], r["target"], tuple(r["exempt_sections"]))
            for r in document.get("recognitions", [])
        )
        equivalences = tuple(
            Equivalence(e["held"], e["counts_as"]) for e in document.get("equivalences", [])
        )
        return cls(sections, certificates, recognitions, equivalences, version)


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


Problem = tuple[str, str]
"""A JSON pointer into the document and what is wrong there."""


def catalogue_problems(document: Mapping[str, Any], departments: Iterable[str]) -> list[Problem]:
    """Every semantic problem in a catalogue document, each with a JSON pointer.

    Checks are independent so that one fault produces one problem: a requirement naming an
    unknown section is reported once, not again by every check that reads that requirement.
    """
    known_departments = set(departments)
    problems: list[Problem] = []

    sections: dict[str, Mapping[str, Any]] = {}
    for i, s in enumerate(document.get("sections", [])):
        at = f"/sections/{i}"
        if s["code"] in sections:
            problems.append((f"{at}/code", _("duplicate section code %(code)s", code=s["code"])))
            continue
        sections[s["code"]] = s
        if s["scoring"] == "score" and s.get("max_score") is None:
            problems.append((f"{at}/max_score", _("a scored section needs max_score")))
        if s["scoring"] == "pass_fail" and s.get("max_score") is not None:
            problems.append((f"{at}/max_score", _("a pass_fail section has no max_score")))

    certificates: dict[str, Mapping[str, Any]] = {}
    first_index: dict[str, int] = {}
    for i, c in enumerate(document.get("certificates", [])):
        if c["code"] in certificates:
            problems.append(
                (
                    f"/certificates/{i}/code",
                    _("duplicate certificate code %(code)s", code=c["code"]),
                )
            )
            continue
        certificates[c["code"]] = c
        first_index[c["code"]] = i

    for i, c in enumerate(document.get("certificates", [])):
        if first_index[c["code"]] == i:  # a duplicate is already reported
            problems.extend(
                _certificate_problems(
                    f"/certificates/{i}", c, known_departments, sections, certificates
                )
            )

    for i, rec in enumerate(document.get("recognitions", [])):
        problems.extend(_recognition_problems(f"/recognitions/{i}", rec, sections, certificates))

    problems.extend(_equivalence_problems(document.get("equivalences", []), certificates))
    return problems


def _certificate_problems(
    at: str,
    c: Mapping[str, Any],
    known_departments: set[str],
    sections: Mapping[str, Mapping[str, Any]],
    certificates: Mapping[str, Mapping[str, Any]],
) -> list[Problem]:
    problems: list[Problem] = []
    if c["department"] not in known_departments:
        problems.append(
            (f"{at}/department", _("unknown department %(department)s", department=c["department"]))
        )
    min_age, max_age = c.get("min_age"), c.get("max_age")
    if min_age is not None and max_age is not None and min_age > max_age:
        below = _(
            "max_age %(max_age)s is below min_age %(min_age)s", max_age=max_age, min_age=min_age
        )
        problems.append((f"{at}/max_age", below))
    if not c.get("requirements"):
        problems.append((f"{at}/requirements", _("a certificate needs at least one section")))
    seen: set[str] = set()
    for j, r in enumerate(c.get("requirements", [])):
        problems.extend(_requirement_problems(f"{at}/requirements/{j}", r, sections, seen))
    for k, code in enumerate(c.get("prerequisites_any_of") or []):
        if code not in certificates:
            problems.append(
                (f"{at}/prerequisites_any_of/{k}", _("unknown certificate %(code)s", code=code))
            )
        elif code == c["code"]:
            problems.append(
                (f"{at}/prerequisites_any_of/{k}", _("a certificate cannot require itself"))
            )
    return problems


def _requirement_problems(
    at: str, r: Mapping[str, Any], sections: Mapping[str, Mapping[str, Any]], seen: set[str]
) -> list[Problem]:
    code = r["section"]
    section = sections.get(code)
    if section is None:
        return [(f"{at}/section", _("unknown section %(code)s", code=code))]
    if code in seen:
        return [(f"{at}/section", _("section %(code)s is listed twice", code=code))]
    seen.add(code)
    pass_score = r.get("pass_score")
    if section["scoring"] == "pass_fail":
        if pass_score is not None:
            return [
                (f"{at}/pass_score", _("%(code)s is pass_fail and takes no pass_score", code=code))
            ]
        return []
    if pass_score is None:
        return [(f"{at}/pass_score", _("%(code)s is scored and needs a pass_score", code=code))]
    max_score = section.get("max_score")
    if max_score is not None and Decimal(str(pass_score)) > Decimal(str(max_score)):
        return [
            (
                f"{at}/pass_score",
                _(
                    "pass_score %(pass_score)s is above %(code)s's max_score %(max_score)s",
                    pass_score=pass_score,
                    code=code,
                    max_score=max_score,
                ),
            )
        ]
    return []


def _recognition_problems(
    at: str,
    rec: Mapping[str, Any],
    sections: Mapping[str, Mapping[str, Any]],
    certificates: Mapping[str, Mapping[str, Any]],
) -> list[Problem]:
    problems: list[Problem] = []
    if rec["held"] not in certificates:
        problems.append((f"{at}/held", _("unknown certificate %(code)s", code=rec["held"])))
    target = certificates.get(rec["target"])
    if target is None:
        problems.append((f"{at}/target", _("unknown certificate %(code)s", code=rec["target"])))
    elif rec["held"] == rec["target"]:
        problems.append((f"{at}/target", _("a certificate cannot recognise itself")))
    if not rec.get("exempt_sections"):
        problems.append((f"{at}/exempt_sections", _("a recognition exempts at least one section")))
    required = {r["section"] for r in target["requirements"]} if target else None
    for k, code in enumerate(rec.get("exempt_sections", [])):
        if code not in sections:
            problems.append((f"{at}/exempt_sections/{k}", _("unknown section %(code)s", code=code)))
        elif required is not None and code not in required:
            problems.append(
                (
                    f"{at}/exempt_sections/{k}",
                    _("%(target)s does not require %(code)s", target=rec["target"], code=code),
                )
            )
    return problems


def _equivalence_problems(
    equivalences: Iterable[Mapping[str, Any]], certificates: Mapping[str, Mapping[str, Any]]
) -> list[Problem]:
    """Unknown codes, and each equivalence that would close a cycle (reported where it closes)."""
    problems: list[Problem] = []
    graph: dict[str, set[str]] = {}
    for i, eq in enumerate(equivalences):
        at = f"/equivalences/{i}"
        held, counts_as = eq["held"], eq["counts_as"]
        unknown = False
        for key, code in (("held", held), ("counts_as", counts_as)):
            if code not in certificates:
                problems.append((f"{at}/{key}", _("unknown certificate %(code)s", code=code)))
                unknown = True
        if unknown:
            continue
        if held == counts_as or _reaches(graph, counts_as, held):
            problems.append(
                (
                    at,
                    _(
                        "%(held)s → %(counts_as)s closes an equivalence cycle",
                        held=held,
                        counts_as=counts_as,
                    ),
                )
            )
            continue
        graph.setdefault(held, set()).add(counts_as)
    return problems


def _reaches(graph: Mapping[str, set[str]], start: str, goal: str) -> bool:
    stack, seen = [start], {start}
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for nxt in graph.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False
