"""Delivery in the log: one line per attempt (WARNING for a 410 and for a request that failed
for good), and the worker's repeated identical errors throttled to one line a minute."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from app.delivery.journal import Throttle
from tests.delivery.test_delivery import start_env
from tests.receiver import Receiver, always, wait_until
from tests.support import ExamClock, adult, qualify


def _attempt_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "oneexam.delivery" and getattr(r, "webhook_id", None) and hasattr(r, "outcome")
    ]


def test_every_attempt_writes_one_line_and_410_or_failing_for_good_is_a_warning(
    fresh_database_url: str, caplog: pytest.LogCaptureFixture, exam_clock: ExamClock
) -> None:
    caplog.set_level(logging.INFO, logger="oneexam.delivery")
    with Receiver() as receiver:
        receiver.behaviours["samr"] = always(410)
        receiver.behaviours["mohrss"] = always(500)
        with start_env(fresh_database_url, receiver, retry_schedule=(0, 0.05)) as env:
            qualify(
                env.client,
                env.world,
                [(adult(1), ["MEM-LV", "SAMR-WELD", "MOHRSS-ELEC-L5"])],
                clock=exam_clock,
            )
            assert wait_until(lambda: sorted(env.statuses()) == ["delivered", "failed", "pending"])
            env.wait_idle()
            lines = _attempt_lines(caplog)
    by: dict[str, list[Any]] = {}
    for r in lines:
        by.setdefault(r.department, []).append(r)  # type: ignore[attr-defined]
    (mem,) = by["mem"]
    assert (mem.levelno, mem.outcome, mem.status_code, mem.attempt) == (  # type: ignore[attr-defined]
        logging.INFO,
        "delivered",
        200,
        1,
    )
    assert mem.request_id.startswith("ir_") and mem.webhook_id.startswith("msg_")  # type: ignore[attr-defined]
    assert mem.duration_ms >= 0 and mem.next_retry is None  # type: ignore[attr-defined]
    (samr,) = by["samr"]
    assert (samr.levelno, samr.outcome, samr.status_code) == (logging.WARNING, "endpoint_gone", 410)  # type: ignore[attr-defined]
    first, last = by["mohrss"]
    assert (first.levelno, first.outcome, first.status_code) == (logging.INFO, "retry", 500)  # type: ignore[attr-defined]
    assert first.next_retry is not None  # type: ignore[attr-defined]
    assert (last.levelno, last.outcome, last.attempt) == (logging.WARNING, "failed", 2)  # type: ignore[attr-defined]


def test_the_throttle_writes_an_error_once_then_a_count_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    throttle = Throttle(clock=lambda: now[0])
    with caplog.at_level(logging.ERROR, logger="oneexam.delivery"):
        for i in range(100):
            now[0] = i * 0.5
            throttle.exception(
                "claiming deliveries failed", OperationalError("x", {}, Exception("gone"))
            )
        now[0] = 61.0
        throttle.exception(
            "claiming deliveries failed", OperationalError("x", {}, Exception("gone"))
        )
    records = [r for r in caplog.records if r.name == "oneexam.delivery"]
    assert len(records) == 2
    assert records[0].exc_info is not None
    assert records[1].exc_info is None and records[1].repeated == 100  # type: ignore[attr-defined]


def test_a_failing_claim_loop_does_not_write_a_traceback_every_poll(
    fresh_database_url: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    exam_clock: ExamClock,
) -> None:
    from app.delivery import service as delivery_service

    calls = [0]

    def broken_claim(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        raise OperationalError("select", {}, Exception("database is away"))

    monkeypatch.setattr(delivery_service, "claim", broken_claim)
    caplog.set_level(logging.INFO, logger="oneexam.delivery")
    with Receiver() as receiver, start_env(fresh_database_url, receiver) as env:
        qualify(env.client, env.world, [(adult(2), ["MEM-LV"])], clock=exam_clock)
        assert wait_until(lambda: calls[0] >= 20)
    failures = [
        r for r in caplog.records if r.getMessage().startswith("claiming deliveries failed")
    ]
    assert len(failures) == 1 and failures[0].exc_info is not None
