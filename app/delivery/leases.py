"""Keeping the one-in-flight promise: leases renewed by a heartbeat, attempts cut at a deadline.

A worker holds every event it claimed under a short lease (``Settings.lease_seconds``). While
the event is being sent, or waits for the recorder, the :class:`Heartbeat` renews it every
``HEARTBEAT`` seconds, so a dead worker's events are taken over within one lease, not after a
whole attempt bound.

Each attempt ends at its deadline, enforced from outside the read loop by the
:class:`Watchdog`: at ``ATTEMPT_BOUND`` × the request timeout after it started, or shortly
before the lease as last renewed would lapse (a heartbeat that cannot reach the database), the
watchdog shuts the attempt's socket down. The sending thread then sees its read fail and
records a timeout. So an attempt never outlives its lease, and no other worker can take the
event over while it is still on the wire.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.db import Database, utcnow
from app.delivery.journal import Throttle
from app.delivery.models import Delivery

log = logging.getLogger("oneexam.delivery")

ATTEMPT_BOUND = 4
"""An attempt lasts at most this many request timeouts, however the endpoint trickles."""
HEARTBEAT = 5.0
"""Seconds between lease renewals (shorter if the lease is short)."""
RENEW_FAILED = "renewing delivery leases failed"
LEASE_SAFETY = 2.0
"""An attempt is cut this long before its lease would lapse without renewal."""


@dataclass(eq=False)
class Watch:
    """One attempt under the watchdog."""

    delivery_id: str
    deadline: float
    """monotonic: ATTEMPT_BOUND × timeout after the attempt started"""
    lease_until: float
    """monotonic: when the lease, as last renewed, lapses"""
    stream: Any = None
    expired: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def cut_at(self) -> float:
        return min(self.deadline, self.lease_until - LEASE_SAFETY)

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's ``trace`` extension: remember the connection's stream once connected."""
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            self.stream = info.get("return_value")

    def cut(self) -> None:
        with self.lock:
            self.expired = True
            sock = self.stream.get_extra_info("socket") if self.stream is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed: the attempt ended on its own
                sock.shutdown(socket.SHUT_RDWR)


def monotonic_of(at: datetime) -> float:
    return time.monotonic() + (at - utcnow()).total_seconds()


class Watchdog:
    """Cuts attempts at their deadline; one thread per worker."""

    def __init__(self) -> None:
        self._watches: dict[str, Watch] = {}
        self._cond = threading.Condition()
        self._stopping = False
        self._wakes_at = 0.0
        """monotonic: when the watchdog wakes next by itself (0 while it is awake)"""
        self._thread = threading.Thread(target=self._loop, name="delivery-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(5)

    def watch(self, delivery_id: str, *, deadline: float, lease_until: float) -> Watch:
        w = Watch(delivery_id, deadline, lease_until)
        with self._cond:
            self._watches[delivery_id] = w
            if w.cut_at < self._wakes_at:  # only then: one wake per attempt costs the GIL
                self._cond.notify_all()
        return w

    def unwatch(self, w: Watch) -> None:
        with self._cond:
            if self._watches.get(w.delivery_id) is w:
                del self._watches[w.delivery_id]
        with w.lock:
            w.stream = None  # the connection goes back to the pool: never cut it later

    def renewed(self, ids: list[str], lease_until: float) -> None:
        with self._cond:
            for i in ids:
                w = self._watches.get(i)
                if w is not None:
                    w.lease_until = lease_until
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                now = time.monotonic()
                due = [w for w in self._watches.values() if w.cut_at <= now]
                for w in due:
                    del self._watches[w.delivery_id]
                if not due:
                    nearest = min((w.cut_at for w in self._watches.values()), default=now + 1)
                    self._wakes_at = now + max(0.01, min(nearest - now, 1.0))
                    self._cond.wait(self._wakes_at - now)
                    self._wakes_at = 0.0
                    continue
            for w in due:
                log.info(
                    "attempt passed its deadline; connection closed",
                    extra={"webhook_id": w.delivery_id},
                )
                w.cut()


class Heartbeat:
    """Renews the leases of every event this worker holds, every ``interval`` seconds."""

    def __init__(
        self,
        *,
        database: Database,
        worker: str,
        lease: timedelta,
        held: Callable[[], list[str]],
        renewed: Callable[[list[str], float], None],
    ) -> None:
        self.database = database
        self.worker = worker
        self.lease = lease
        self.interval = min(HEARTBEAT, lease.total_seconds() / 3)
        self._held = held
        self._renewed = renewed
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="delivery-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(5)

    def _loop(self) -> None:
        throttle = Throttle()
        while not self._stopping.wait(self.interval):
            try:
                self.beat()
                throttle.recovered(RENEW_FAILED)
            except (
                Exception
            ) as exc:  # the next beat tries again; attempts are cut before leases lapse
                throttle.exception(RENEW_FAILED, exc)

    def beat(self) -> int:
        """One renewal of every held lease (fenced: only rows this worker still holds)."""
        ids = self._held()
        if not ids:
            return 0
        until = utcnow() + self.lease
        with self.database.write() as db:
            renewed = list(
                db.scalars(
                    sa.update(Delivery)
                    .where(Delivery.id.in_(ids), Delivery.locked_by == self.worker)
                    .values(locked_until=until)
                    .returning(Delivery.id)
                )
            )
        self._renewed(renewed, monotonic_of(until))
        return len(renewed)
