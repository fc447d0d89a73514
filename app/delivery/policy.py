"""What happens after an attempt: the retry policy, as a pure function.

- 2xx: delivered.
- 410 Gone: the endpoint is switched off; the event waits, uncounted, until an admin turns the
  endpoint back on.
- anything else (3xx, 4xx, 5xx, timeout, connection error) is a failure and counts. The next
  attempt comes after the schedule's next delay, ±20 % jitter; a 429 or 503 with Retry-After
  waits at least as long as the department asked. After the last attempt: failed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal

from app.delivery.states import AttemptOutcome

JITTER = 0.2
MAX_RETRY_AFTER = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Step:
    kind: AttemptOutcome
    failures: int
    next_attempt_at: datetime | None


def classify(status_code: int | None) -> Literal["success", "gone", "failure"]:
    if status_code is not None and 200 <= status_code < 300:
        return "success"
    if status_code == 410:
        return "gone"
    return "failure"


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Seconds or an HTTP date (RFC 9110 §10.2.3); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(timedelta(seconds=int(value)), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(when - now, timedelta(0)), MAX_RETRY_AFTER)


def next_step(
    *,
    status_code: int | None,
    failures: int,
    schedule: Sequence[float],
    now: datetime,
    retry_after: timedelta | None = None,
    rng: random.Random | None = None,
) -> Step:
    """The event's fate after an attempt. ``failures`` counts earlier failed attempts;
    ``schedule[k]`` is the delay before attempt k+1, so attempt k+2 waits ``schedule[k+1]``."""
    kind = classify(status_code)
    if kind == "success":
        return Step(AttemptOutcome.DELIVERED, failures, None)
    if kind == "gone":
        return Step(AttemptOutcome.ENDPOINT_GONE, failures, now)
    failures += 1
    if failures >= len(schedule):
        return Step(AttemptOutcome.FAILED, failures, None)
    jitter = 1 + (rng or random).uniform(-JITTER, JITTER)
    delay = timedelta(seconds=schedule[failures] * jitter)
    if retry_after is not None and status_code in (429, 503):
        delay = max(delay, retry_after)
    return Step(AttemptOutcome.RETRY, failures, now + delay)
