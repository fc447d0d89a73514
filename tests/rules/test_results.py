"""The result-batch rule (docs/api.md §7), on its own: every row is judged exactly once, a
recordable batch sent again is all unchanged, and what is new is never already stored."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from app.rules import Section, Sitting, check_result_batch

SECTIONS = {
    "THEORY": Section("THEORY", "理论", "theory", "score", Decimal(100)),
    "PRACTICAL": Section("PRACTICAL", "实操", "practical", "pass_fail"),
}
REGISTRATIONS = ["reg_a", "reg_b", "reg_c", "reg_unknown"]


@dataclass(frozen=True)
class Row:
    registration_id: str
    section: str
    score: Decimal | None = None
    passed: bool | None = None


rows_strategy = st.lists(
    st.builds(
        Row,
        registration_id=st.sampled_from(REGISTRATIONS),
        section=st.sampled_from(sorted(SECTIONS)),
        score=st.one_of(
            st.none(), st.integers(-5, 110).map(lambda n: Decimal(n)), st.just(Decimal("80.5"))
        ),
        passed=st.one_of(st.none(), st.booleans()),
    ),
    max_size=12,
)
sittings_strategy = st.fixed_dictionaries(
    {
        "reg_a": st.builds(
            Sitting, absent=st.just(False), sits=st.just(frozenset({"THEORY", "PRACTICAL"}))
        ),
        "reg_b": st.builds(Sitting, absent=st.just(False), sits=st.just(frozenset({"THEORY"}))),
        "reg_c": st.builds(
            Sitting, absent=st.booleans(), sits=st.just(frozenset({"THEORY", "PRACTICAL"}))
        ),
    }
)
stored_strategy = st.dictionaries(
    st.tuples(st.sampled_from(["reg_a", "reg_b"]), st.just("THEORY")),
    st.tuples(st.integers(0, 100).map(lambda n: Decimal(n)), st.none()),
)


@settings(max_examples=200, deadline=None)
@given(rows=rows_strategy, sittings=sittings_strategy, stored=stored_strategy)
def test_every_row_is_judged_exactly_once(rows, sittings, stored) -> None:  # type: ignore[no-untyped-def]
    check = check_result_batch(rows, sittings=sittings, stored=stored, sections=SECTIONS)
    judged = len(check.invalid) + len(check.conflicts) + check.unchanged + len(check.new)
    assert judged == len(rows)
    pointers = [p.pointer.split("/")[2] for p in check.invalid + check.conflicts]
    assert len(pointers) == len(set(pointers))  # one problem per bad row at most
    assert not set(pointers) & {str(k) for k in check.new}


@settings(max_examples=200, deadline=None)
@given(rows=rows_strategy, sittings=sittings_strategy, stored=stored_strategy)
def test_new_rows_are_distinct_valid_and_not_yet_stored(rows, sittings, stored) -> None:  # type: ignore[no-untyped-def]
    check = check_result_batch(rows, sittings=sittings, stored=stored, sections=SECTIONS)
    keys = [(rows[k].registration_id, rows[k].section) for k in check.new]
    assert len(keys) == len(set(keys))
    for k in check.new:
        row = rows[k]
        assert (row.registration_id, row.section) not in stored
        sitting = sittings[row.registration_id]
        assert not sitting.absent and row.section in sitting.sits
        assert (row.score is None) != (row.passed is None)


@settings(max_examples=200, deadline=None)
@given(rows=rows_strategy, sittings=sittings_strategy, stored=stored_strategy)
def test_a_recorded_batch_sent_again_is_all_unchanged(rows, sittings, stored) -> None:  # type: ignore[no-untyped-def]
    check = check_result_batch(rows, sittings=sittings, stored=stored, sections=SECTIONS)
    if not check.recordable:
        return
    after = dict(stored)
    after.update(
        {
            (rows[k].registration_id, rows[k].section): (rows[k].score, rows[k].passed)
            for k in check.new
        }
    )
    again = check_result_batch(rows, sittings=sittings, stored=after, sections=SECTIONS)
    assert again.recordable and not again.new and again.unchanged == len(rows)


def test_each_kind_of_bad_row_is_named_with_its_pointer() -> None:
    sittings = {
        "reg_a": Sitting(absent=False, sits=frozenset({"THEORY", "PRACTICAL"})),
        "reg_b": Sitting(absent=True, sits=frozenset({"THEORY"})),
    }
    stored = {("reg_a", "PRACTICAL"): (None, True)}
    rows = [
        Row("reg_unknown", "THEORY", score=Decimal(80)),
        Row("reg_b", "THEORY", score=Decimal(80)),
        Row("reg_a", "THEORY", score=Decimal(101)),
        Row("reg_a", "THEORY", score=Decimal(90)),
        Row("reg_a", "THEORY", score=Decimal(90)),
        Row("reg_a", "PRACTICAL", passed=False),
    ]
    check = check_result_batch(rows, sittings=sittings, stored=stored, sections=SECTIONS)
    assert [(p.pointer, p.message) for p in check.invalid] == [
        ("/results/0/registration_id", "no such registration in this session"),
        ("/results/1/registration_id", "the candidate is marked absent"),
        ("/results/2/score", "above THEORY's maximum 100"),
        ("/results/4", "this registration and section appear twice in the batch"),
    ]
    assert [(p.pointer, p.message) for p in check.conflicts] == [
        (
            "/results/5",
            "contradicts the result recorded for PRACTICAL (True); amend it instead",
        )
    ]
    assert check.new == [3] and check.unchanged == 0
