from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from app.rules import Catalogue, HeldCertificate, SectionResult, evaluate, missing_results, plan
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
    p = plan(
        CATALOGUE, ["MOHURD-ELEC"], [HeldCertificate("MEM-LV", "LV-1", date(2030, 1, 1))], BORN, ON
    )
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


WELD = ["MEM-WELD", "SAMR-WELD", "MOHRSS-WELD-L5", "MOHURD-WELD"]
WELD_SECTIONS = sorted({s for code in WELD for s in CATALOGUE.sections_of([code])})


def _any_results(draw_scores: dict[str, int], passes: dict[str, bool]) -> dict[str, SectionResult]:
    out = {}
    for code in WELD_SECTIONS:
        if CATALOGUE.sections[code].scoring == "pass_fail":
            if code in passes:
                out[code] = SectionResult(code, passed=passes[code])
        elif code in draw_scores:
            out[code] = SectionResult(code, score=Decimal(draw_scores[code]))
    return out


weld_scores = st.dictionaries(st.sampled_from(WELD_SECTIONS), st.integers(0, 100))
weld_passes = st.dictionaries(st.sampled_from(WELD_SECTIONS), st.booleans())


@settings(max_examples=150, deadline=None)
@given(
    weld_scores,
    weld_passes,
    st.permutations(WELD),
    st.sets(st.sampled_from(WELD_SECTIONS)),
    st.booleans(),
)
def test_releasing_certificates_one_by_one_gives_the_outcomes_of_releasing_all_at_once(
    scores: dict[str, int],
    passes: dict[str, bool],
    order: list[str],
    absent_from: set[str],
    absent: bool,
) -> None:
    p = plan(CATALOGUE, WELD, [], BORN, ON)
    given_results = _any_results(scores, passes)
    at_once = evaluate(CATALOGUE, p, given_results, absent=absent, absent_from=absent_from)
    one_by_one = {
        o.certificate: o
        for code in order
        for o in evaluate(
            CATALOGUE, p, given_results, absent=absent, absent_from=absent_from, certificates={code}
        )
    }
    assert {o.certificate: o for o in at_once} == one_by_one
    assert [o.certificate for o in at_once] == [t.certificate for t in p.targets]


@settings(max_examples=150, deadline=None)
@given(weld_scores, weld_passes, st.sets(st.sampled_from(WELD_SECTIONS)))
def test_absence_from_sections_makes_exactly_the_targets_needing_them_absent(
    scores: dict[str, int], passes: dict[str, bool], absent_from: set[str]
) -> None:
    p = plan(CATALOGUE, WELD, [], BORN, ON)
    given_results = _any_results(scores, passes)
    usual = {o.certificate: o for o in evaluate(CATALOGUE, p, given_results)}
    for outcome in evaluate(CATALOGUE, p, given_results, absent_from=absent_from):
        needs = set(p.target(outcome.certificate).required_sections)
        if needs & absent_from:
            assert outcome.status == "absent" and not outcome.failed_sections
        else:
            assert outcome == usual[outcome.certificate]


@settings(max_examples=150, deadline=None)
@given(
    st.sets(st.sampled_from(WELD_SECTIONS)),
    st.sets(st.sampled_from(WELD_SECTIONS)),
    st.sets(st.sampled_from(WELD)),
)
def test_a_release_misses_only_what_its_certificates_need(
    recorded: set[str], absent_from: set[str], certificates: set[str]
) -> None:
    p = plan(CATALOGUE, WELD, [], BORN, ON)
    missing = missing_results(p, recorded, absent_from=absent_from, certificates=certificates)
    needed = {s for t in p.targets if t.certificate in certificates for s in t.required_sections}
    assert set(missing) == needed - recorded - absent_from
    assert set(missing) <= set(missing_results(p, recorded, absent_from=absent_from))
