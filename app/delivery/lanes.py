"""One department inside a delivery worker: its lane.

A lane holds the department's endpoint and :class:`~app.delivery.signing.Signer`, a small
buffer of events already leased to this worker (claimed ahead of need, so a sending thread
that finishes an exchange starts the next one at once), and the count of its exchanges on the
wire. Its sending threads — ``cap`` of them, the department's in-flight limit — take events
from the buffer; nothing else of the worker is shared with another department's lane.

The buffer is bounded: a lane never holds more than ``cap + ahead`` events outside the
recorder (in flight plus buffered), and asks for more only once ``refill`` of them are free,
so each claim takes several events in one statement.
"""

from __future__ import annotations

import threading
from collections import deque

from app.delivery.service import Claimed, Endpoint
from app.delivery.signing import Signer


class Lane:
    """A department's buffer of leased events and its in-flight count."""

    def __init__(self, endpoint: Endpoint, *, cap: int, ahead: int) -> None:
        self.department = endpoint.department
        self.cap = cap
        self.ahead = ahead
        self.refill = max(1, ahead // 2)
        """Claim again once this many more events fit."""
        self.endpoint = endpoint
        self.signer = Signer(endpoint.secrets)
        self.active = True
        """The department takes deliveries (an active endpoint with a URL)."""
        self.hold_until = 0.0
        """Monotonic: no claims before (nothing more was due a moment ago)."""
        self.gone_until = 0.0
        """Monotonic: the endpoint just answered 410; nothing is claimed, buffered or sent."""
        self._cond = threading.Condition()
        self._buffer: deque[Claimed] = deque()
        self._in_flight = 0
        self._closing = False

    def update(self, endpoint: Endpoint) -> None:
        """A re-read endpoint: a new URL or rotated secrets apply from the next exchange."""
        if endpoint.secrets != self.signer.secrets:
            self.signer = Signer(endpoint.secrets)
        self.endpoint = endpoint
        self.active = True

    def room(self, now: float) -> int:
        """How many more events the lane would take now (0 while it takes none)."""
        with self._cond:
            if self._closing or not self.active or max(self.hold_until, self.gone_until) > now:
                return 0
            return self.cap + self.ahead - len(self._buffer) - self._in_flight

    def put(self, claimed: list[Claimed], now: float) -> list[Claimed]:
        """Buffer freshly claimed events; returns those refused (the lane stopped taking
        deliveries meanwhile), whose leases must be handed back."""
        with self._cond:
            if self._closing or not self.active or self.gone_until > now:
                return claimed
            self._buffer.extend(claimed)
            self._cond.notify(len(claimed))
        return []

    def take(self) -> tuple[Claimed | None, bool]:
        """The next event to send, counted in flight (blocks while the buffer is empty), and
        whether the lane now has room for a claim. ``None`` once the lane is closed."""
        with self._cond:
            while not self._buffer and not self._closing:
                self._cond.wait()
            if not self._buffer:
                return None, False
            claimed = self._buffer.popleft()
            self._in_flight += 1
            room = self.cap + self.ahead - len(self._buffer) - self._in_flight
        return claimed, room >= self.refill

    def exchanged(self) -> None:
        """An exchange ended: its slot is free, whether or not its attempt is recorded yet."""
        with self._cond:
            self._in_flight -= 1

    def drain(self) -> list[Claimed]:
        """Take every buffered event back (not to be sent by this lane)."""
        with self._cond:
            drained = list(self._buffer)
            self._buffer.clear()
        return drained

    def close(self) -> list[Claimed]:
        """Stop the lane: its threads finish their exchange and end; the buffered events are
        returned, to hand their leases back."""
        with self._cond:
            self._closing = True
            drained = list(self._buffer)
            self._buffer.clear()
            self._cond.notify_all()
        return drained

    def counts(self) -> tuple[int, int]:
        """(buffered, in flight)."""
        with self._cond:
            return len(self._buffer), self._in_flight
