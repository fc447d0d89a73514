"""The retry policy, as a pure function."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.delivery.policy import classify, next_step, parse_retry_after

NOW = datetime(2026, 12, 15, 8, 0, tzinfo=UTC)
SCHEDULE = (0, 5, 300, 1800)


def test_success_gone_and_everything_else() -> None:
    assert classify(200) == classify(204) == "success"
    assert classify(410) == "gone"
    assert {classify(c) for c in (None, 301, 302, 400, 404, 429, 500, 503)} == {"failure"}


def test_each_failure_counts_and_the_last_one_fails_the_event() -> None:
    failures = 0
    for expected_delay in SCHEDULE[1:]:
        step = next_step(
            status_code=500, failures=failures, schedule=SCHEDULE, now=NOW, rng=random.Random(1)
        )
        assert step.kind == "retry" and step.failures == failures + 1
        assert step.next_attempt_at is not None
        delay = (step.next_attempt_at - NOW).total_seconds()
        assert expected_delay * 0.8 <= delay <= expected_delay * 1.2
        failures = step.failures
    last = next_step(status_code=400, failures=failures, schedule=SCHEDULE, now=NOW)
    assert (last.kind, last.failures, last.next_attempt_at) == ("failed", len(SCHEDULE), None)


def test_410_waits_without_counting_and_2xx_delivers() -> None:
    gone = next_step(status_code=410, failures=2, schedule=SCHEDULE, now=NOW)
    assert (gone.kind, gone.failures) == ("endpoint_gone", 2)
    assert next_step(status_code=201, failures=3, schedule=SCHEDULE, now=NOW).kind == "delivered"


def test_retry_after_is_honoured_for_429_and_503_only() -> None:
    wait = timedelta(seconds=120)
    for code in (429, 503):
        step = next_step(status_code=code, failures=0, schedule=SCHEDULE, now=NOW, retry_after=wait)
        assert step.next_attempt_at == NOW + wait
    step = next_step(status_code=500, failures=0, schedule=SCHEDULE, now=NOW, retry_after=wait)
    assert step.next_attempt_at is not None and step.next_attempt_at < NOW + wait


def test_retry_after_accepts_seconds_and_http_dates_and_caps_at_a_day() -> None:
    assert parse_retry_after("30", NOW) == timedelta(seconds=30)
    assert parse_retry_after("Tue, 15 Dec 2026 08:01:00 GMT", NOW) == timedelta(minutes=1)
    assert parse_retry_after("999999", NOW) == timedelta(days=1)
    assert parse_retry_after("soon", NOW) is None and parse_retry_after(None, NOW) is None


@given(st.lists(st.floats(0, 1e5), min_size=1, max_size=10), st.integers(0, 2**32))
def test_jitter_stays_within_twenty_percent(schedule: list[float], seed: int) -> None:
    for failures in range(len(schedule) - 1):
        step = next_step(
            status_code=503, failures=failures, schedule=schedule, now=NOW, rng=random.Random(seed)
        )
        assert step.next_attempt_at is not None
        delay = (step.next_attempt_at - NOW).total_seconds()
        assert schedule[failures + 1] * 0.8 - 1e-6 <= delay <= schedule[failures + 1] * 1.2 + 1e-6
