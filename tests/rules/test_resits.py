"""The resit rule on its own (docs/api.md §4 rule 7, §11): what carries, for how long, how
many times, and that carrying never adds a section to sit."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from app.rules import (
    Carried,
    CarryBasis,
    Catalogue,
    EarlierSitting,
    SectionResult,
    apply_carried,
    carried_sections,
    evaluate,
    plan,
)
from tests.support import reference_catalogue

CATALOGUE = Catalogue.from_document(reference_catalogue(), 1)
FIRST = date(2026, 12, 15)
BORN = date(1990, 1, 1)
ALL_TARGETS = sorted(CATALOGUE.certificates)


def failed_practical(day: date = FIRST, registration_id: str = "reg_1") -> EarlierSitting:
    return EarlierSitting(
        registration_id=registration_id,
        exam_date=day,
        certificate="MEM-LV",
        status="not_qualified",
        results={
            "ELEC-TRAINING": SectionResult("ELEC-TRAINING", passed=True),
            "ELEC-THEORY": SectionResult("ELEC-THEORY", score=Decimal(85)),
            "ELEC-PRACTICAL": SectionResult("ELEC-PRACTICAL", score=Decimal(70)),
        },
    )


def test_the_window_runs_carry_days_from_the_sitting_that_passed() -> None:
    history = [failed_practical()]
    inside = carried_sections(CATALOGUE, ["MEM-LV"], history, FIRST + timedelta(days=365))
    assert [c.section for c in inside] == ["ELEC-TRAINING", "ELEC-THEORY"]
    assert carried_sections(CATALOGUE, ["MEM-LV"], history, FIRST + timedelta(days=366)) == ()
    assert carried_sections(CATALOGUE, ["MOHURD-ELEC"], history, FIRST + timedelta(days=30)) == ()


def test_a_failed_resit_ends_the_chain_and_a_passed_one_needs_no_resit() -> None:
    resit = EarlierSitting(
        "reg_2",
        FIRST + timedelta(days=30),
        "MEM-LV",
        "not_qualified",
        {"ELEC-PRACTICAL": SectionResult("ELEC-PRACTICAL", score=Decimal(60))},
        carried=carried_sections(
            CATALOGUE, ["MEM-LV"], [failed_practical()], FIRST + timedelta(days=30)
        ),
    )
    on = FIRST + timedelta(days=60)
    assert carried_sections(CATALOGUE, ["MEM-LV"], [failed_practical(), resit], on) == ()
    absent = EarlierSitting("reg_3", FIRST, "MEM-LV", "absent", {})
    assert carried_sections(CATALOGUE, ["MEM-LV"], [absent], on) == ()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(ALL_TARGETS), min_size=1, max_size=4, unique=True),
    st.lists(
        st.tuples(st.sampled_from(ALL_TARGETS), st.sampled_from(sorted(CATALOGUE.sections))),
        max_size=8,
    ),
)
def test_carrying_never_adds_a_section_to_sit(
    targets: list[str], pairs: list[tuple[str, str]]
) -> None:
    p = plan(CATALOGUE, targets, [], BORN, FIRST)
    basis = CarryBasis("reg_0", FIRST - timedelta(days=1))
    carried = [Carried(t, s, Decimal(90), None, basis) for t, s in pairs]
    after = apply_carried(p, carried)
    assert set(after.required_sections) <= set(p.required_sections)
    for old, new in zip(p.targets, after.targets, strict=True):
        assert set(new.required_sections) <= set(old.required_sections)
        assert set(old.required_sections) - set(new.required_sections) <= {
            s for t, s in pairs if t == old.certificate
        }
    needed = {s for t in after.targets for s in t.required_sections}
    assert set(after.required_sections) == needed & set(p.required_sections)


def test_evaluation_reads_the_carried_result_for_its_target_only() -> None:
    on = FIRST + timedelta(days=30)
    p = plan(CATALOGUE, ["MEM-LV", "MOHURD-ELEC"], [], BORN, on)
    p = apply_carried(p, carried_sections(CATALOGUE, ["MEM-LV"], [failed_practical()], on))
    results = {
        "ELEC-TRAINING": SectionResult("ELEC-TRAINING", passed=True),
        "ELEC-THEORY": SectionResult("ELEC-THEORY", score=Decimal(65)),
        "BUILD-SAFETY": SectionResult("BUILD-SAFETY", score=Decimal(90)),
        "ELEC-PRACTICAL": SectionResult("ELEC-PRACTICAL", score=Decimal(85)),
    }
    outcomes = {o.certificate: o for o in evaluate(CATALOGUE, p, results)}
    assert outcomes["MEM-LV"].qualified
    assert [f.section for f in outcomes["MOHURD-ELEC"].failed_sections] == ["ELEC-THEORY"]
