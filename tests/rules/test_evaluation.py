from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from app.rules import Catalogue, HeldCertificate, SectionResult, evaluate, plan
from tests.support import reference_catalogue

CATALOGUE = Catalogue.from_document(reference_catalogue(), 1)
ON = date(2026, 12, 15)
BORN = date(1990, 1, 1)
ELEC3 = ["MEM-LV", "MOHURD-ELEC", "MOHRSS-ELEC-L5"]


def results(**scores: object) -> dict[str, SectionResult]:
    out = {}
    for code, value in scores.items():
        section = code.replace("_", "-")
        out[section] = (
            SectionResult(section, passed=value)
            if isinstance(value, bool)
            else SectionResult(section, score=Decimal(str(value)))
        )
    return out


def test_the_same_scores_meet_one_departments_mark_and_not_anothers() -> None:
    p = plan(CATALOGUE, ELEC3, [], BORN, ON)
    outcomes = {
        o.certificate: o
        for o in evaluate(
            CATALOGUE,
            p,
            results(ELEC_TRAINING=True, ELEC_THEORY=75, ELEC_PRACTICAL=85, BUILD_SAFETY=72),
        )
    }
    assert outcomes["MOHURD-ELEC"].qualified and outcomes["MOHRSS-ELEC-L5"].qualified
    mem = outcomes["MEM-LV"]
    assert mem.status == "not_qualified"
    assert [(f.section, f.score, f.pass_score) for f in mem.failed_sections] == [
        ("ELEC-THEORY", Decimal(75), Decimal(80))
    ]


def test_exempt_sections_are_not_needed_and_missing_results_fail() -> None:
    p = plan(CATALOGUE, ["MOHURD-ELEC"], [HeldCertificate("MEM-LV", "LV-1")], BORN, ON)
    (outcome,) = evaluate(CATALOGUE, p, results(ELEC_THEORY=70, ELEC_PRACTICAL=60, BUILD_SAFETY=70))
    assert outcome.qualified and outcome.exemptions[0].section == "ELEC-TRAINING"
    (outcome,) = evaluate(CATALOGUE, p, results(ELEC_THEORY=70, ELEC_PRACTICAL=60))
    assert [(f.section, f.missing) for f in outcome.failed_sections] == [("BUILD-SAFETY", True)]


def test_absent_candidates_are_absent_for_every_target() -> None:
    p = plan(CATALOGUE, ELEC3, [], BORN, ON)
    assert {o.status for o in evaluate(CATALOGUE, p, {}, absent=True)} == {"absent"}


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["ELEC-THEORY", "ELEC-PRACTICAL", "BUILD-SAFETY"]),
        st.integers(0, 1000).map(lambda t: Decimal(t) / 10),
    ),
    st.booleans(),
)
def test_qualified_exactly_when_every_required_section_meets_that_certificates_mark(
    scores, training
) -> None:  # type: ignore[no-untyped-def]
    p = plan(CATALOGUE, ELEC3, [], BORN, ON)
    given_results = {s: SectionResult(s, score=v) for s, v in scores.items()}
    given_results["ELEC-TRAINING"] = SectionResult("ELEC-TRAINING", passed=training)
    for outcome in evaluate(CATALOGUE, p, given_results):
        cert = CATALOGUE.certificates[outcome.certificate]
        expected = all(
            (
                given_results[r.section].passed
                if r.pass_score is None
                else (r.section in scores and scores[r.section] >= r.pass_score)
            )
            for r in cert.requirements
        )
        assert outcome.qualified == expected


def test_validity_runs_to_the_day_before_the_anniversary() -> None:
    mem_lv = CATALOGUE.certificates["MEM-LV"]  # six years
    assert mem_lv.valid_until(date(2026, 12, 20)) == date(2032, 12, 19)
    assert mem_lv.valid_until(date(2028, 2, 29)) == date(2034, 2, 28)
    assert (
        CATALOGUE.certificates["MOHRSS-ELEC-L5"].valid_until(date(2026, 12, 20)) is None
    )  # lifelong
