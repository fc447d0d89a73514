"""The delivery worker: a pipeline that keeps each department's slots full.

Threads, not asyncio: synchronous ``httpx`` clients in threads post faster than one async
client at the same concurrency on this kind of machine (docs/benchmarks.md).

- **Lanes.** Each department taking deliveries has its own lane (``app/delivery/lanes.py``):
  ``ONEEXAM_DELIVERY_CONCURRENCY`` sending threads, each with its own keep-alive connection
  (so the department's connections are its own and reused), and a small buffer of events
  already leased to this worker. A slow or dead department only ever occupies its own lane.
- **Claiming ahead of need.** The dispatcher claims for every lane with room in one
  statement (``service.claim``), so a thread that ends an exchange takes the next event
  from its buffer at once. It is woken by a sending thread as soon as a lane has room, and
  waits (the poll interval) only when nothing was due.
- **Slots free at the end of the exchange.** The attempt goes to the recorder's queue and the
  thread takes its next event. The queue is bounded (``MAX_UNRECORDED``): if the recorder
  falls behind, sending threads wait to hand over their attempt, so memory stays bounded.
- **The recorder** stores attempts in batches, fenced by the lease version: an attempt whose
  lease was taken over is stored as ``superseded`` and changes nothing.
- **Leases.** Every event this worker holds — buffered, on the wire, or waiting to be
  recorded — is leased to it; a heartbeat renews the leases, and a watchdog cuts each attempt
  at its deadline or before its lease could lapse (``app/delivery/leases.py``), so no event is
  ever in flight twice and a dead worker's events are taken over within one short lease. An
  event is released (its lease given back, the event claimable again) only once its attempt is
  recorded, so one event has at most one attempt at a time.

A crash loses nothing: leased events are taken over once their lease expires and sent again
under the same ``webhook-id``.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import socket
import ssl
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.exc import SQLAlchemyError

from app.config import Settings
from app.db import Database, utcnow
from app.delivery import egress, journal, service
from app.delivery.lanes import Lane
from app.delivery.leases import ATTEMPT_BOUND, Heartbeat, Watch, Watchdog, monotonic_of
from app.delivery.outbox import Outbox
from app.delivery.service import EXCERPT_BYTES, Attempt, Claimed, Endpoint
from app.metrics import Metrics

log = logging.getLogger("oneexam.delivery")

RECORD_BATCH = 500
RECORD_GATHER = 0.05
"""Seconds the recorder lets attempts gather after the first, so one transaction takes many."""
MAX_UNRECORDED = 2 * RECORD_BATCH
"""Finished attempts waiting for the recorder, at most; sending threads wait beyond it."""
ENDPOINT_REFRESH = 1.0
CLAIM_FAILED = "claiming deliveries failed; retrying shortly"
RECORD_FAILED = "recording attempts failed; retrying"
MIN_SEND_WINDOW = 1.0
"""An attempt is not started with less than this many seconds left before its cut-off."""


@dataclass(frozen=True)
class PipelineState:
    """What a worker holds at one moment (``DeliveryWorker.pipeline``)."""

    held: int
    """Events leased to this worker: buffered, in flight or not yet recorded."""
    buffered: int
    in_flight: int
    queued: int
    """Finished attempts in the recorder's queue (at most ``MAX_UNRECORDED``)."""
    handing_over: int
    """Sending threads waiting for room in that queue (the recorder is behind)."""


@dataclass
class _Answer:
    status_code: int | None = None
    error: str | None = None
    excerpt: str | None = None
    retry_after: str | None = None


def make_client(
    *, timeout: float, tls: ssl.SSLContext, allowed: Sequence[egress.Network]
) -> httpx.Client:
    """The HTTP client of one sending thread: one keep-alive connection, no redirects, the
    per-phase timeout, and the egress policy checked at every connection."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        transport=egress.GuardedTransport(
            allowed,
            verify=tls,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        ),
        follow_redirects=False,
        headers={"user-agent": "oneexam-webhooks/1"},
    )


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class DeliveryWorker:
    def __init__(
        self,
        *,
        database: Database,
        outbox: Outbox,
        settings: Settings,
        metrics: Metrics | None = None,
        name: str | None = None,
    ) -> None:
        self.database = database
        self.outbox = outbox
        self.vault = outbox.vault
        self.settings = settings
        self.metrics = metrics
        self.name = name or worker_name()
        self.cap = settings.delivery_concurrency
        self.ahead = 4 * settings.delivery_concurrency
        """Events a lane may hold leased beyond those in flight (it claims again once half of
        them are free)."""
        self.timeout = settings.delivery_timeout
        self.lease = timedelta(seconds=settings.lease_seconds)
        self.schedule = settings.retry_schedule
        self.poll = settings.delivery_poll_interval
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._lanes: dict[str, Lane] = {}
        self._senders: list[threading.Thread] = []
        self._clients: list[httpx.Client] = []
        self._local = threading.local()
        self._tls = ssl.create_default_context()  # one trust store for every sending thread
        self._endpoints_expire = 0.0
        self._done: queue.Queue[Attempt] = queue.Queue(maxsize=MAX_UNRECORDED)
        self._stopping = threading.Event()
        self._closed = threading.Event()
        """Every sending thread has ended: nothing more reaches the recorder."""
        self._wake = threading.Event()
        self._dispatcher: threading.Thread | None = None
        self._recorder: threading.Thread | None = None
        self._handing_over = 0
        self._leases: dict[str, tuple[int, float]] = {}
        """events held (claimed, not yet recorded) → (lease version, when it lapses, monotonic)"""
        self._watchdog = Watchdog()
        self._heartbeat = Heartbeat(
            database=database,
            worker=self.name,
            lease=self.lease,
            held=self._held,
            renewed=self._renewed,
        )
        self._throttle = journal.Throttle()
        self._idle = threading.Condition()
        self._looks_asked = 0
        self._looks_done = 0

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, name="delivery-dispatch", daemon=True
        )
        self._recorder = threading.Thread(
            target=self._record_loop, name="delivery-record", daemon=True
        )
        self._watchdog.start()
        self._heartbeat.start()
        self._dispatcher.start()
        self._recorder.start()
        log.info("delivery worker started", extra={"worker": self.name, "per_department": self.cap})

    def stop(self, timeout: float | None = None) -> None:
        """Stop claiming; hand back the leases of buffered events; let in-flight attempts
        finish (they are bounded by their deadline) and record them; then close."""
        self._stopping.set()
        self._wake.set()
        self._close_lanes()
        if self._dispatcher is not None:
            self._dispatcher.join(timeout)
        self._close_lanes()  # and any lane the dispatcher opened meanwhile
        with self._lock:
            senders = list(self._senders)
        for thread in senders:
            thread.join(timeout)
        self._closed.set()
        if self._recorder is not None:
            self._recorder.join(timeout)
        self._heartbeat.stop()
        self._watchdog.stop()
        for client in self._clients:
            client.close()
        log.info("delivery worker stopped", extra={"worker": self.name})

    def _close_lanes(self) -> None:
        with self._lock:
            lanes = list(self._lanes.values())
        for lane in lanes:
            self._release(lane.close())

    def wait(self) -> None:
        while not self._stopping.wait(1.0):
            pass

    def request_stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until the dispatcher has looked at every department afresh (endpoints
        re-read, none skipped), found nothing due, and no event is held (buffered, in flight
        or unrecorded). False if that did not happen within ``timeout``. For tests and
        operators who need to know that "nothing more will be sent now" without sleeping."""
        with self._idle:
            self._looks_asked += 1
            asked = self._looks_asked
            self._wake.set()
            return self._idle.wait_for(lambda: self._looks_done >= asked, timeout)

    def pipeline(self) -> PipelineState:
        """A snapshot of the pipeline, for tests and operators."""
        with self._lock:
            lanes = list(self._lanes.values())
            held, handing_over = len(self._leases), self._handing_over
        counts = [lane.counts() for lane in lanes]
        return PipelineState(
            held,
            sum(b for b, _ in counts),
            sum(f for _, f in counts),
            self._done.qsize(),
            handing_over,
        )

    # -- dispatching --------------------------------------------------------------------------

    def _dispatch_loop(self) -> None:
        while not self._stopping.is_set():
            with self._idle:
                look = self._looks_asked
            fresh = look > self._looks_done
            try:
                claimed = self._claim_round(fresh=fresh)
                self._throttle.recovered(CLAIM_FAILED)
            except (
                Exception
            ) as exc:  # the loop outlives any one failure (a dead loop stops retries)
                self._throttle.exception(CLAIM_FAILED, exc)
                self._stopping.wait(self.poll)
                continue
            if claimed == 0 and fresh and self._all_idle():
                with self._idle:
                    self._looks_done = look
                    self._idle.notify_all()
            if claimed == 0:
                # Nothing to claim: a lane with room, the recorder or a look wakes us early.
                self._wake.wait(self.poll)
                self._wake.clear()

    def _lanes_now(self, *, fresh: bool) -> list[Lane]:
        """The lanes of departments taking deliveries, endpoints re-read every
        ENDPOINT_REFRESH seconds (a 410, a reactivation, a new URL or a rotated secret is seen
        within that); a department no longer taking deliveries hands its buffer back."""
        if fresh or time.monotonic() >= self._endpoints_expire:
            with self.database.read() as db:
                endpoints = service.endpoints(db, vault=self.vault, now=utcnow())
            self._endpoints_expire = time.monotonic() + ENDPOINT_REFRESH
            self._refresh_lanes(endpoints, fresh=fresh)
        with self._lock:
            return [lane for lane in self._lanes.values() if lane.active]

    def _refresh_lanes(self, endpoints: list[Endpoint], *, fresh: bool) -> None:
        current = {e.department: e for e in endpoints}
        with self._lock:
            lanes = dict(self._lanes)
        for department, endpoint in current.items():
            lane = lanes.get(department)
            if lane is None:
                self._open_lane(endpoint)
            else:
                lane.update(endpoint)
                if fresh:
                    lane.hold_until = lane.gone_until = 0.0
        for department, lane in lanes.items():
            if department not in current and lane.active:
                lane.active = False
                self._release(lane.drain())

    def _open_lane(self, endpoint: Endpoint) -> None:
        lane = Lane(endpoint, cap=self.cap, ahead=self.ahead)
        threads = [
            threading.Thread(
                target=self._send_loop,
                args=(lane,),
                name=f"deliver-{lane.department}_{i}",
                daemon=True,
            )
            for i in range(self.cap)
        ]
        with self._lock:
            self._lanes[lane.department] = lane
            self._senders.extend(threads)
        for thread in threads:
            thread.start()

    def _claim_round(self, *, fresh: bool) -> int:
        """Once a lane has room for ``refill`` events, claim for it and for every other lane
        with room, in one statement; returns how many were claimed."""
        lanes = self._lanes_now(fresh=fresh)
        now = time.monotonic()
        rooms = [(lane, lane.room(now)) for lane in lanes]
        if not any(room >= lane.refill for lane, room in rooms):
            return 0
        wants = {lane.department: room for lane, room in rooms if room > 0}
        with self.database.write() as db:
            claimed = service.claim(
                db, vault=self.vault, limits=wants, worker=self.name, now=utcnow(), lease=self.lease
            )
        by_department: dict[str, list[Claimed]] = defaultdict(list)
        with self._lock:
            for c in claimed:
                self._leases[c.id] = (c.lease_version, monotonic_of(c.locked_until))
                by_department[c.department].append(c)
            lanes_by = {d: self._lanes[d] for d in wants}
        for department, asked in wants.items():
            got = by_department.get(department, [])
            lane = lanes_by[department]
            if got:
                self._release(lane.put(got, now))
            if len(got) < asked:
                lane.hold_until = now + self.poll  # nothing more is due there right now
        return len(claimed)

    def _release(self, claimed: list[Claimed]) -> None:
        """Hand leases back through the recorder (in order with the attempts before them)."""
        for c in claimed:
            self._done.put(Attempt(c, self.name, utcnow(), 0.0, None, None, None, None, True))

    def _client(self) -> httpx.Client:
        """This sending thread's own client (one keep-alive connection, no shared pool lock:
        threads sharing one client's pool spend much of their time queueing for its lock)."""
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = make_client(
                timeout=self.timeout,
                tls=self._tls,
                allowed=self.settings.webhook_allowed_networks,
            )
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    # -- sending ------------------------------------------------------------------------------

    def _send_loop(self, lane: Lane) -> None:
        """One sending thread of a lane: take the next buffered event, exchange, hand the
        attempt to the recorder, again."""
        while True:
            claimed, room = lane.take()
            if claimed is None:
                return
            if room:
                self._wake.set()
            try:
                attempt = self._send(lane, claimed)
            finally:
                lane.exchanged()
            if attempt.status_code == 410:
                # Stop sending and claiming for this department at once; the recorded 410
                # switches the endpoint off for every worker.
                lane.gone_until = time.monotonic() + 2 * ENDPOINT_REFRESH
                self._endpoints_expire = 0.0
                self._release(lane.drain())
            self._hand_over(attempt)

    def _hand_over(self, attempt: Attempt) -> None:
        """To the recorder; waits while MAX_UNRECORDED attempts are already waiting."""
        with self._lock:
            self._handing_over += 1
        try:
            self._done.put(attempt)
        finally:
            with self._lock:
                self._handing_over -= 1

    def _send(self, lane: Lane, claimed: Claimed) -> Attempt:
        started = utcnow()
        t0 = time.monotonic()
        with self._lock:
            version, lease_until = self._leases.get(claimed.id, (-1, t0))
        watch = self._watchdog.watch(
            claimed.id, deadline=t0 + ATTEMPT_BOUND * self.timeout, lease_until=lease_until
        )
        answer = _Answer()
        released = False
        try:
            if version != claimed.lease_version or watch.cut_at - t0 < MIN_SEND_WINDOW:
                released = True  # the lease is nearly gone or was renewed under another claim
            else:
                self._exchange(lane, claimed, started, watch, answer)
        except httpx.HTTPError as exc:
            log.debug(
                "delivery attempt failed", extra={"webhook_id": claimed.id, "error": repr(exc)}
            )
            answer.error = egress.attempt_error(exc, self.timeout)
        except Exception as exc:  # never let one event kill the thread
            log.exception("unexpected error while delivering", extra={"webhook_id": claimed.id})
            answer.error = f"unexpected {type(exc).__name__}"
        finally:
            self._watchdog.unwatch(watch)
        if watch.expired:  # cut by the watchdog: whatever arrived is not an answer
            answer.status_code, answer.excerpt = None, None
            answer.error = f"timeout: the attempt passed its deadline of {watch.cut_at - t0:.1f} s"
        return Attempt(
            claimed,
            self.name,
            started,
            (time.monotonic() - t0) * 1000,
            answer.status_code,
            answer.error,
            answer.excerpt,
            answer.retry_after,
            released,
        )

    def _exchange(
        self, lane: Lane, claimed: Claimed, started: datetime, watch: Watch, answer: _Answer
    ) -> None:
        endpoint = lane.endpoint
        headers = lane.signer.headers(claimed.id, claimed.body, started)
        watch.stream = getattr(self._local, "stream", None)  # a kept-alive connection
        with self._client().stream(
            "POST",
            endpoint.url,
            content=claimed.body,
            headers=headers,
            extensions={"trace": watch.trace},
        ) as response:
            self._local.stream = watch.stream
            answer.status_code = response.status_code
            answer.retry_after = response.headers.get("retry-after")
            answer.excerpt = self._read_excerpt(response)

    @staticmethod
    def _read_excerpt(response: httpx.Response) -> str:
        data = b""
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) >= EXCERPT_BYTES:
                break
        return data[:EXCERPT_BYTES].decode("utf-8", errors="replace")

    # -- recording ----------------------------------------------------------------------------

    def _record_loop(self) -> None:
        pending: list[Attempt] = []
        while True:
            if not pending:
                try:
                    pending.append(self._done.get(timeout=0.05))
                except queue.Empty:
                    if self._closed.is_set():
                        return
                    continue
                self._gather(pending)
            try:
                self._record(pending)
                pending = []
                self._throttle.recovered(RECORD_FAILED)
            except SQLAlchemyError as exc:
                self._throttle.exception(RECORD_FAILED, exc)
                time.sleep(0.5)
            except Exception:
                # Not the database: record one by one so a single bad attempt cannot stall the
                # rest. An attempt that still fails is dropped; its lease expires and the event
                # is simply tried again.
                log.exception("recording a batch of attempts failed; recording one by one")
                for attempt in pending:
                    try:
                        self._record([attempt])
                    except Exception:
                        log.exception(
                            "dropped an attempt record", extra={"webhook_id": attempt.claimed.id}
                        )
                pending = []

    def _gather(self, pending: list[Attempt]) -> None:
        """Let attempts gather for RECORD_GATHER (not at all when a whole batch is already
        waiting, or once the worker is stopping), then take what is there, up to a batch. One
        wake per batch, not one per attempt: each wake of this thread costs the sending threads
        the GIL."""
        if self._done.qsize() < RECORD_BATCH and not self._closed.is_set():
            self._stopping.wait(RECORD_GATHER)
        while len(pending) < RECORD_BATCH:
            try:
                pending.append(self._done.get_nowait())
            except queue.Empty:
                return

    def _held(self) -> list[str]:
        with self._lock:
            return list(self._leases)

    def _renewed(self, ids: list[str], lease_until: float) -> None:
        with self._lock:
            for i in ids:
                held = self._leases.get(i)
                if held is not None:
                    self._leases[i] = (held[0], lease_until)
        self._watchdog.renewed(ids, lease_until)

    def _forget(self, attempts: list[Attempt]) -> None:
        """Recorded: these events are no longer held (unless claimed again since)."""
        with self._lock:
            for a in attempts:
                held = self._leases.get(a.claimed.id)
                if held is not None and held[0] == a.claimed.lease_version:
                    del self._leases[a.claimed.id]
        self._wake.set()

    def _all_idle(self) -> bool:
        with self._lock:
            return not self._leases

    def _record(self, attempts: list[Attempt]) -> None:
        with self.database.write() as db:
            service.release(db, claimed=[a.claimed for a in attempts if a.released])
            recorded = service.record(
                db,
                attempts=[a for a in attempts if not a.released],
                outbox=self.outbox,
                schedule=self.schedule,
                now=utcnow(),
                rng=self._rng,
            )
        self._forget(attempts)
        for r in recorded:
            self._report(r)

    def _report(self, r: service.Recorded) -> None:
        """The attempt's log line and metrics."""
        if r.claimed is not None:
            journal.attempt(
                department=r.department,
                request_id=r.claimed.request_id,
                webhook_id=r.claimed.id,
                number=r.attempt,
                outcome=r.outcome,
                status_code=r.status_code,
                error=r.error,
                duration_ms=r.duration_ms,
                next_attempt_at=r.next_attempt_at,
            )
        if self.metrics is not None:
            self.metrics.deliveries.labels(r.department, r.outcome).inc()
            self.metrics.delivery_seconds.labels(r.department).observe(r.duration_ms / 1000)
