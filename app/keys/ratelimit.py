"""A per-key rate limit: at most ``limit`` calls in any ``window`` seconds for each key.

A sliding log in memory, one per process: with several API replicas each counts on its own, so
the effective limit is ``limit`` × replicas (put a shared limiter in front if that matters).
Memory is bounded by ``limit`` timestamps per key that has called.
"""

from __future__ import annotations

import math
import threading
from collections import deque

from app import clock


class KeyRateLimiter:
    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key_id: str) -> int | None:
        """Count a call; None if it may go ahead, else the seconds until one may (≥ 1)."""
        now = clock.now().timestamp()
        with self._lock:
            calls = self._calls.setdefault(key_id, deque())
            while calls and calls[0] <= now - self.window:
                calls.popleft()
            if len(calls) >= self.limit:
                return max(1, math.ceil(calls[0] + self.window - now))
            calls.append(now)
            return None
