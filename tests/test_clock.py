"""The one clock: local dates in the service's zone, and the test clock that moves it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app import clock
from tests.support import ExamClock


def test_at_half_past_midnight_in_beijing_today_is_already_the_local_date(
    exam_clock: ExamClock,
) -> None:
    exam_clock.move_to(datetime(2026, 12, 14, 16, 30, tzinfo=UTC))  # 00:30 on the 15th in Beijing
    assert clock.now().date() == date(2026, 12, 14)
    assert clock.today() == date(2026, 12, 15)
    assert clock.today("Europe/London") == date(2026, 12, 14)


def test_start_of_a_session_moves_every_reader_of_the_clock(exam_clock: ExamClock) -> None:
    exam_clock.start_of({"starts_at": "2026-12-15T09:00:00+08:00"})
    assert datetime(2026, 12, 15, 1, 0, 1, tzinfo=UTC) <= clock.now()
    assert clock.local_date(clock.now(), "Asia/Shanghai") == date(2026, 12, 15)


def test_an_unknown_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        clock.zone("Mars/Olympus_Mons")
