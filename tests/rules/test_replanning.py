"""Revoked certificates and the plans that rested on them (docs/api.md §8), in the pure core:
re-planning before the session starts (``replan_without``), the check again at finalisation
(``recheck``), evaluation, and the basis a webhook names (``prerequisite_basis``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import assume, given
from hypothesis import strategies as st

from app.rules import (
    Basis,
    Catalogue,
    HeldCertificate,
    SectionResult,
    evaluate,
    plan,
    prerequisite_basis,
    recheck,
    reliances,
    replan_without,
)
from app.rules.planning import dated
from tests.rules.test_planning import ADULT, ON, REFERENCE, catalogues, property_settings

LV = HeldCertificate("MEM-LV", "T-LV-1", date(2030, 1, 1), verified=True)


def test_a_revoked_basis_puts_the_section_back_and_a_lost_prerequisite_closes_the_target() -> None:
    targets = ["MOHURD-ELEC", "MOHRSS-ELEC-L4"]
    registered = plan(REFERENCE, targets, [LV], ADULT, ON)
    assert registered.eligible and "ELEC-TRAINING" not in registered.required_sections
    document = Basis(LV.certificate, LV.number)
    replanned = replan_without(REFERENCE, registered, [LV], ADULT, document)
    assert replanned is not None
    assert [(r.target, r.section) for r in replanned.reliances] == [
        ("MOHURD-ELEC", "ELEC-TRAINING"),
        ("MOHRSS-ELEC-L4", None),
    ]
    new = replanned.plan
    assert new.exemptions == () and "ELEC-TRAINING" in new.required_sections
    level4 = new.target("MOHRSS-ELEC-L4")
    assert not level4.eligible and level4.reasons
    assert not set(level4.required_sections) & set(new.required_sections)  # not sat for
    assert replanned.held == ()
    # a certificate the plan did not rest on changes nothing
    other = HeldCertificate("SAMR-WELD", "W-1", date(2030, 1, 1), verified=True)
    assert (
        replan_without(REFERENCE, registered, [LV, other], ADULT, Basis("SAMR-WELD", "W-1")) is None
    )


def test_when_another_document_still_opens_it_the_plan_names_that_one() -> None:
    paper = HeldCertificate("MEM-LV", "LV-PAPER", date(2029, 1, 1))
    registered = plan(REFERENCE, ["MOHRSS-ELEC-L4"], [LV, paper], ADULT, ON)
    opened = prerequisite_basis(REFERENCE, "MOHRSS-ELEC-L4", [LV, paper], ON)
    assert opened is not None and opened[1] == LV  # verified first
    replanned = replan_without(REFERENCE, registered, [LV, paper], ADULT, Basis("MEM-LV", "T-LV-1"))
    assert replanned is not None and replanned.plan.eligible
    assert prerequisite_basis(REFERENCE, "MOHRSS-ELEC-L4", replanned.held, ON) == (
        "MOHRSS-ELEC-L5",
        paper,
    )


# --- the property ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """A certificate of the person's record and what becomes of it: kept, revoked before the
    session starts (re-planned at once) or revoked while it is under way (re-checked)."""

    held: HeldCertificate
    fate: str


@st.composite
def histories(draw: st.DrawFn) -> tuple[Catalogue, list[str], list[Record], list[HeldCertificate]]:
    catalogue = draw(catalogues())
    codes = list(catalogue.certificates)
    dates = st.one_of(st.none(), st.dates(ON - timedelta(days=5), ON + timedelta(days=5)))
    records = [
        Record(
            HeldCertificate(draw(st.sampled_from(codes)), f"V{i}", draw(dates), verified=True),
            draw(st.sampled_from(["kept", "revoked before", "revoked under way"])),
        )
        for i in range(draw(st.integers(0, 5)))
    ]
    declared = [
        HeldCertificate(
            draw(st.sampled_from(codes)),
            f"D{i}",
            draw(dates),
            issued_on=draw(st.one_of(st.none(), st.dates(ON - timedelta(days=1500), ON))),
        )
        for i in range(draw(st.integers(0, 3)))
    ]
    targets = draw(st.lists(st.sampled_from(codes), min_size=1, unique=True))
    return catalogue, targets, records, declared


def _passed_everything(catalogue: Catalogue, sections: tuple[str, ...]) -> dict[str, SectionResult]:
    return {
        s: SectionResult(s, passed=True)
        if catalogue.sections[s].scoring == "pass_fail"
        else SectionResult(s, score=Decimal(100))
        for s in sections
    }


def _valid_on_the_exam_date(catalogue: Catalogue, h: HeldCertificate) -> bool:
    d = dated(catalogue, h)
    return d is not None and (d.valid_until is None or d.valid_until >= ON)


@property_settings
@given(histories())
def test_no_qualified_outcome_rests_on_a_certificate_revoked_or_expired_on_the_exam_date(h) -> None:  # type: ignore[no-untyped-def]
    catalogue, wanted, records, declared = h
    held = [r.held for r in records] + declared
    # registration: the targets the person is eligible for on the exam date
    first = plan(catalogue, wanted, held, ADULT, ON)
    targets = [t.certificate for t in first.targets if t.eligible]
    assume(targets)
    registered = plan(catalogue, targets, held, ADULT, ON)

    # revoked before the session starts: re-planned at once, one after the other
    for r in (r for r in records if r.fate == "revoked before"):
        document = Basis(r.held.certificate, r.held.number)
        replanned = replan_without(catalogue, registered, held, ADULT, document)
        if replanned is not None:
            registered, held = replanned.plan, list(replanned.held)
        assert not reliances(catalogue, registered, held, document)

    # finalisation: the plan worked out again on the record as it stands, then evaluated
    revoked = {(r.held.certificate, r.held.number) for r in records if r.fate != "kept"}
    standing = [h for h in held if not h.verified] + [r.held for r in records if r.fate == "kept"]
    current = plan(catalogue, [t.certificate for t in registered.targets], standing, ADULT, ON)
    results = _passed_everything(catalogue, registered.required_sections)
    outcomes = evaluate(catalogue, registered, results, again=recheck(registered, current))

    # the documents a webhook may name: the registration's, without any revoked since
    named = [h for h in held if (h.certificate, h.number) not in revoked]
    good = {(h.certificate, h.number): h for h in named if _valid_on_the_exam_date(catalogue, h)}
    for outcome in (o for o in outcomes if o.qualified):
        for e in outcome.exemptions:
            assert (e.basis.certificate, e.basis.number) in good, (outcome, e)
        if catalogue.certificates[outcome.certificate].prerequisites_any_of:
            opened = prerequisite_basis(catalogue, outcome.certificate, named, ON)
            assert opened is not None, outcome
            assert (opened[1].certificate, opened[1].number) in good, (outcome, opened)
