"""Rules 1-5 on the reference catalogue, and properties that must hold for any catalogue."""

from __future__ import annotations

import random
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.rules import (
    Catalogue,
    HeldCertificate,
    ReasonCode,
    catalogue_problems,
    message,
    plan,
    plan_from_dict,
    plan_to_dict,
    with_record,
)
from tests.support import reference_catalogue

ON = date(2026, 12, 15)
ADULT = date(1990, 1, 1)
REFERENCE = Catalogue.from_document(reference_catalogue(), 1)


def test_equivalences_close_transitively_and_keep_the_basis_document() -> None:
    # MEM-HV counts as L4, and L4 counts as L5: holding MEM-HV opens L4 (prerequisite L5).
    p = plan(
        REFERENCE,
        ["MOHRSS-ELEC-L4"],
        [HeldCertificate("MEM-HV", "HV-1", date(2030, 1, 1))],
        ADULT,
        ON,
    )
    assert p.eligible
    assert set(p.counted_as_held) == {"MEM-HV", "MOHRSS-ELEC-L4", "MOHRSS-ELEC-L5"}
    # a recognition through a held certificate names that certificate as the basis
    p = plan(
        REFERENCE, ["MOHURD-ELEC"], [HeldCertificate("MEM-HV", "HV-1", date(2030, 1, 1))], ADULT, ON
    )
    assert [(e.section, e.basis.certificate, e.basis.number) for e in p.exemptions] == [
        ("ELEC-TRAINING", "MEM-HV", "HV-1")
    ]


def test_unknown_held_certificates_are_reported_not_used() -> None:
    p = plan(REFERENCE, ["MEM-LV"], [HeldCertificate("FOREIGN-CERT", "F-1")], ADULT, ON)
    assert [i.certificate for i in p.ignored_held] == ["FOREIGN-CERT"]
    reason = p.ignored_held[0].reason
    assert reason.code == ReasonCode.NOT_IN_CATALOGUE and reason.values["version"] == 1
    assert "catalogue version 1" in message(reason)


def test_age_bounds_are_inclusive() -> None:
    sixty = date(ON.year - 60, ON.month, ON.day)
    assert plan(REFERENCE, ["MEM-LV"], [], sixty, ON).eligible
    sixty_one = date(ON.year - 61, ON.month, ON.day)
    p = plan(REFERENCE, ["MEM-LV"], [], sixty_one, ON)
    (reason,) = p.targets[0].reasons
    assert not p.eligible and reason.code == ReasonCode.TOO_OLD
    assert reason.values == {
        "age": 61,
        "on": ON.isoformat(),
        "max_age": 60,
        "certificate": "MEM-LV",
    }
    assert "above the maximum age 60" in message(reason)
    assert plan(REFERENCE, ["MOHRSS-ELEC-L5"], [], sixty_one, ON).eligible  # no upper bound


def test_when_two_documents_support_a_code_the_preferred_basis_is_fixed() -> None:
    held = [
        HeldCertificate("MEM-LV", "LV-OLD", date(2027, 1, 1)),
        HeldCertificate("MEM-LV", "LV-NEW", date(2031, 1, 1)),
    ]
    for order in (held, held[::-1]):
        p = plan(REFERENCE, ["MOHURD-ELEC"], order, ADULT, ON)
        assert p.exemptions[0].basis.number == "LV-NEW"  # the one valid longest
    verified = HeldCertificate("MEM-LV", "LV-V", date(2028, 1, 1), verified=True)
    p = plan(REFERENCE, ["MOHURD-ELEC"], [*held, verified], ADULT, ON)
    assert p.exemptions[0].basis.number == "LV-V"  # issued through oneexam beats declared


# --- properties, on random catalogues -------------------------------------------------------


@st.composite
def catalogues(draw: st.DrawFn) -> Catalogue:
    n_sections = draw(st.integers(1, 8))
    sections = [
        {
            "code": f"S{i}",
            "name": f"section {i}",
            "kind": "theory",
            "scoring": "score",
            "max_score": 100,
        }
        if draw(st.booleans())
        else {"code": f"S{i}", "name": f"section {i}", "kind": "training", "scoring": "pass_fail"}
        for i in range(n_sections)
    ]
    n_certs = draw(st.integers(1, 7))
    certificates = []
    for c in range(n_certs):
        chosen = draw(
            st.lists(st.integers(0, n_sections - 1), min_size=1, max_size=n_sections, unique=True)
        )
        requirements = [
            {"section": f"S{s}", "pass_score": draw(st.integers(0, 100))}
            if sections[s]["scoring"] == "score"
            else {"section": f"S{s}"}
            for s in chosen
        ]
        prereq = draw(
            st.lists(
                st.integers(0, n_certs - 1).filter(lambda x, c=c: x != c), max_size=2, unique=True
            )
        )
        certificates.append(
            {
                "code": f"C{c}",
                "department": "d",
                "name": f"cert {c}",
                "min_age": draw(st.one_of(st.none(), st.integers(14, 20))),
                "max_age": draw(st.one_of(st.none(), st.integers(55, 70))),
                "requirements": requirements,
                "prerequisites_any_of": [f"C{p}" for p in prereq],
            }
        )
    recognitions = []
    for _ in range(draw(st.integers(0, 6))):
        held, target = draw(st.integers(0, n_certs - 1)), draw(st.integers(0, n_certs - 1))
        if held == target:
            continue
        required = [r["section"] for r in certificates[target]["requirements"]]
        exempt = draw(st.lists(st.sampled_from(required), min_size=1, unique=True))
        recognitions.append({"held": f"C{held}", "target": f"C{target}", "exempt_sections": exempt})
    # equivalences only point "upwards" (i -> j with i < j): never a cycle
    pairs = [(i, j) for i in range(n_certs) for j in range(i + 1, n_certs)]
    equivalences = [
        {"held": f"C{i}", "counts_as": f"C{j}"}
        for i, j in draw(
            st.lists(st.sampled_from(pairs), unique=True, max_size=4) if pairs else st.just([])
        )
    ]
    doc = {
        "sections": sections,
        "certificates": certificates,
        "recognitions": recognitions,
        "equivalences": equivalences,
    }
    assert catalogue_problems(doc, ["d"]) == []
    return Catalogue.from_document(doc, 1)


@st.composite
def situations(draw: st.DrawFn) -> tuple[Catalogue, list[str], list[HeldCertificate], date]:
    catalogue = draw(catalogues())
    codes = list(catalogue.certificates)
    targets = draw(st.lists(st.sampled_from(codes), min_size=1, unique=True))
    held = draw(
        st.lists(
            st.builds(
                HeldCertificate,
                certificate=st.sampled_from([*codes, "UNKNOWN"]),
                number=st.text("ABC123", min_size=1, max_size=4),
                valid_until=st.one_of(
                    st.none(), st.dates(ON - timedelta(days=3), ON + timedelta(days=3))
                ),
                verified=st.booleans(),
            ),
            max_size=5,
        )
    )
    birth = draw(st.dates(date(1950, 1, 1), date(2012, 1, 1)))
    return catalogue, targets, held, birth


property_settings = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@property_settings
@given(situations())
def test_required_sections_are_always_within_the_targets_requirements(s) -> None:  # type: ignore[no-untyped-def]
    catalogue, targets, held, birth = s
    p = plan(catalogue, targets, held, birth, ON)
    allowed = {sec for t in targets for sec in catalogue.certificates[t].sections}
    assert set(p.required_sections) <= allowed
    for t in p.targets:
        assert set(t.required_sections) | {e.section for e in t.exemptions} == set(
            catalogue.certificates[t.certificate].sections
        )


@property_settings
@given(situations(), st.data())
def test_holding_another_valid_certificate_never_adds_a_required_section(s, data) -> None:  # type: ignore[no-untyped-def]
    catalogue, targets, held, birth = s
    extra = HeldCertificate(
        data.draw(st.sampled_from(list(catalogue.certificates))),
        "EXTRA",
        data.draw(st.one_of(st.none(), st.dates(ON, ON + timedelta(days=900)))),
    )
    before = plan(catalogue, targets, held, birth, ON)
    after = plan(catalogue, targets, [*held, extra], birth, ON)
    assert set(after.required_sections) <= set(before.required_sections)
    for t_before, t_after in zip(before.targets, after.targets, strict=True):
        assert set(t_after.required_sections) <= set(t_before.required_sections)
        assert t_after.eligible or not t_before.eligible  # more held never closes a target


@property_settings
@given(situations(), st.randoms(use_true_random=False))
def test_plan_is_deterministic_and_independent_of_input_order(s, rnd: random.Random) -> None:  # type: ignore[no-untyped-def]
    catalogue, targets, held, birth = s
    reference = plan(catalogue, targets, held, birth, ON)
    shuffled_targets, shuffled_held = targets[:], held[:]
    rnd.shuffle(shuffled_targets)
    rnd.shuffle(shuffled_held)
    assert plan(catalogue, shuffled_targets, shuffled_held, birth, ON) == reference
    assert plan(catalogue, targets, held, birth, ON) == reference
    assert plan_from_dict(plan_to_dict(reference)) == reference


_documents = st.builds(
    HeldCertificate,
    certificate=st.sampled_from(["MEM-LV", "MEM-HV", "MOHURD-ELEC"]),
    number=st.sampled_from(["T1", "t1", "T2", "X9"]),
    valid_until=st.just(date(2030, 1, 1)),
)
_record = st.builds(
    HeldCertificate,
    certificate=st.sampled_from(["MEM-LV", "MEM-HV", "MOHURD-ELEC"]),
    number=st.sampled_from(["T1", "T2"]),
    valid_until=st.just(date(2030, 1, 1)),
    verified=st.just(True),
    revoked=st.booleans(),
)


@given(declared=st.lists(_documents, max_size=4), record=st.lists(_record, max_size=4))
def test_no_revoked_document_counts_however_it_is_declared(
    declared: list[HeldCertificate], record: list[HeldCertificate]
) -> None:
    """Unless the department issued the certificate again under the same number since (a
    特种作业操作证 number is the person's ID number, so a re-issue keeps it)."""
    standing = {(h.certificate, h.number.casefold()) for h in record if not h.revoked}
    revoked = {(h.certificate, h.number.casefold()) for h in record if h.revoked} - standing
    held = with_record(declared, record)
    p = plan(REFERENCE, ["MOHURD-ELEC", "MOHRSS-ELEC-L4"], held, ADULT, ON)
    for e in p.exemptions:
        assert (e.basis.certificate, e.basis.number.casefold()) not in revoked
    counted = [h for h in held if not h.revoked]
    assert all((h.certificate, h.number.casefold()) not in revoked for h in counted)
    ignored = [i for i in p.ignored_held if i.reason.code == ReasonCode.REVOKED]
    assert len(ignored) == len({(h.certificate, h.number) for h in held if h.revoked})
