"""Reasons are a stable code and language-independent values; their text is made in one place,
and the sentences plans held before codes are read back as the same reasons."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.rules import HeldCertificate, Reason, ReasonCode, message, plan
from app.rules.reasons import MESSAGES
from tests.rules.test_planning import REFERENCE

ON = date(2026, 12, 15)
codes = st.sampled_from(sorted(REFERENCE.certificates))


def test_every_code_has_one_message() -> None:
    assert set(MESSAGES) == set(ReasonCode)


def test_a_plan_gives_codes_with_the_values_they_speak_of() -> None:
    seventeen = date(2009, 12, 16)
    p = plan(
        REFERENCE,
        ["MEM-LV", "MOHRSS-ELEC-L4"],
        [
            HeldCertificate("MEM-HV", "HV-1", date(2026, 12, 14)),
            HeldCertificate("MOHURD-ELEC", "B-1"),
            HeldCertificate("NOT-A-CODE", "N-1", date(2030, 1, 1)),
        ],
        seventeen,
        ON,
    )
    assert {t.certificate: [r.code for r in t.reasons] for t in p.targets} == {
        "MEM-LV": [ReasonCode.TOO_YOUNG],
        "MOHRSS-ELEC-L4": [ReasonCode.MISSING_PREREQUISITE],
    }
    assert p.target("MEM-LV").reasons[0].values == {
        "age": 16,
        "on": "2026-12-15",
        "min_age": 18,
        "certificate": "MEM-LV",
    }
    assert p.target("MOHRSS-ELEC-L4").reasons[0].values["any_of"] == ("MOHRSS-ELEC-L5",)
    assert {i.certificate: i.reason.code for i in p.ignored_held} == {
        "MEM-HV": ReasonCode.EXPIRED,
        "MOHURD-ELEC": ReasonCode.UNDATED,
        "NOT-A-CODE": ReasonCode.NOT_IN_CATALOGUE,
    }


@given(
    certificate=codes,
    age=st.integers(0, 120),
    bound=st.integers(0, 120),
    any_of=st.lists(codes, min_size=1, max_size=3, unique=True),
    day=st.dates(date(2000, 1, 1), date(2099, 12, 31)),
    version=st.integers(1, 10_000),
)
def test_a_sentence_stored_before_codes_reads_back_as_the_same_reason(
    certificate: str, age: int, bound: int, any_of: list[str], day: date, version: int
) -> None:
    on, before = day.isoformat(), (day - timedelta(days=1)).isoformat()
    reasons = [
        Reason.of(ReasonCode.TOO_YOUNG, age=age, on=on, min_age=bound, certificate=certificate),
        Reason.of(ReasonCode.TOO_OLD, age=age, on=on, max_age=bound, certificate=certificate),
        Reason.of(ReasonCode.MISSING_PREREQUISITE, certificate=certificate, any_of=any_of),
        Reason.of(ReasonCode.EXPIRED, valid_until=before, on=on),
        Reason.of(ReasonCode.NOT_IN_CATALOGUE, certificate=certificate, version=version),
    ]
    for reason in reasons:
        assert Reason.from_stored(message(reason)) == reason
        assert Reason.from_stored(reason.to_dict()) == reason
    undated = Reason.from_stored("undated: a declared certificate needs valid_until or issued_on")
    assert undated.code == ReasonCode.UNDATED


def test_a_sentence_of_no_known_form_is_kept_as_it_is() -> None:
    reason = Reason.from_stored("refused by the examiner")
    assert reason.code == ReasonCode.OTHER and message(reason) == "refused by the examiner"
