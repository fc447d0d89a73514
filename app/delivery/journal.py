"""What the worker writes to the log (logger ``oneexam.delivery``).

- One line per recorded attempt: department, request, ``webhook-id``, attempt number, outcome,
  status code or error kind, duration and the next retry. WARNING for a 410 (the endpoint is
  switched off) and for a request that failed for good; INFO otherwise.
- Repeated identical errors of the worker's own loops (the database away, say) are throttled:
  the first is logged with its traceback, the same error again within a minute only counted,
  and one line per minute says how many times it happened.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from app.delivery.states import AttemptOutcome

log = logging.getLogger("oneexam.delivery")

THROTTLE_SECONDS = 60.0


def error_kind(error: str | None) -> str | None:
    """A fixed word for an attempt's error: ``timeout``, ``connection``, ``protocol``,
    ``refused`` (the egress policy), ``unexpected`` (never the connection-level detail)."""
    if error is None:
        return None
    if error.startswith("timeout"):
        return "timeout"
    if error.startswith("connection"):
        return "connection"
    if error.startswith("unexpected"):
        return "unexpected"
    if error.startswith("refused"):
        return "refused"
    return "protocol"


def attempt(
    *,
    department: str,
    request_id: str,
    webhook_id: str,
    number: int,
    outcome: AttemptOutcome,
    status_code: int | None,
    error: str | None,
    duration_ms: float,
    next_attempt_at: datetime | None,
) -> None:
    gone_or_failed = outcome in (AttemptOutcome.ENDPOINT_GONE, AttemptOutcome.FAILED)
    log.log(
        logging.WARNING if gone_or_failed else logging.INFO,
        "delivery attempt %s: %s",
        outcome,
        status_code if status_code is not None else error_kind(error),
        extra={
            "department": department,
            "request_id": request_id,
            "webhook_id": webhook_id,
            "attempt": number,
            "outcome": str(outcome),
            "status_code": status_code,
            "error_kind": error_kind(error),
            "duration_ms": round(duration_ms, 1),
            "next_retry": next_attempt_at.isoformat()
            if outcome == AttemptOutcome.RETRY and next_attempt_at is not None
            else None,
        },
    )


class Throttle:
    """Logs an error once with its traceback, then at most one line a minute with a count."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}
        """(what, error) → (when last written, occurrences since)"""

    def exception(self, what: str, exc: BaseException) -> None:
        key = (what, f"{type(exc).__name__}: {exc}"[:300])
        now = self._clock()
        with self._lock:
            last = self._seen.get(key)
            if last is None:
                self._seen[key] = (now, 0)
                write, count = "first", 0
            elif now - last[0] >= THROTTLE_SECONDS:
                self._seen[key] = (now, 0)
                write, count = "again", last[1] + 1
            else:
                self._seen[key] = (last[0], last[1] + 1)
                return
        if write == "first":
            log.error("%s", what, exc_info=exc)
        else:
            log.error(
                "%s: %s (%d times in the last minute)",
                what,
                key[1],
                count,
                extra={"repeated": count},
            )

    def recovered(self, what: str) -> None:
        """The loop works again: the next failure is logged in full."""
        with self._lock:
            for key in [k for k in self._seen if k[0] == what]:
                del self._seen[key]
