"""The delivery worker: claim due events, sign, post, record, retry.

Threads, not asyncio: a synchronous ``httpx.Client`` shared by a few threads posts several
times faster than one async client at the same concurrency on this kind of machine (see
docs/benchmarks.md), and each department gets its own client and thread pool, capped at
``ONEEXAM_DELIVERY_CONCURRENCY`` in-flight requests, so a slow or dead department can only
ever occupy its own threads.

- the dispatcher thread claims, for each department taking deliveries, as many due events as
  it has free slots (a lease: ``locked_until`` = now + lease, and a new ``lease_version``); a
  department with nothing due is looked at again only after the poll interval;
- a department's threads sign and post; each attempt ends at its deadline (4 × the request
  timeout, or before its lease could lapse), enforced from outside the read loop by a
  watchdog that closes the connection, while a heartbeat renews the leases of every event the
  worker holds (``app/delivery/leases.py``), so no event is ever in flight twice at once and a
  dead worker's events are taken over within one short lease;
- the recorder thread stores attempts in batches, fenced by the lease version: an attempt
  whose lease was taken over is stored as ``superseded`` and changes nothing. A slot is free
  again only once its attempt is recorded, so finished attempts never pile up in memory.

A crash loses nothing: leased events are taken over once their lease expires, and are sent
again under the same ``webhook-id``.
"""

from __future__ import annotations

import itertools
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.exc import SQLAlchemyError
from standardwebhooks import Webhook

from app.config import Settings
from app.db import Database, utcnow
from app.delivery import egress, journal, service
from app.delivery.leases import ATTEMPT_BOUND, Heartbeat, Watch, Watchdog, monotonic_of
from app.delivery.outbox import Outbox
from app.delivery.service import EXCERPT_BYTES, Attempt, Claimed, Endpoint
from app.delivery.signing import signed_headers
from app.metrics import Metrics

log = logging.getLogger("oneexam.delivery")

RECORD_BATCH = 500
CLAIM_GATHER = 0.005
ENDPOINT_REFRESH = 1.0
CLAIM_FAILED = "claiming deliveries failed; retrying shortly"
RECORD_FAILED = "recording attempts failed; retrying"
MIN_SEND_WINDOW = 1.0
"""An attempt is not started with less than this many seconds left before its cut-off."""


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
        self.timeout = settings.delivery_timeout
        self.lease = timedelta(seconds=settings.lease_seconds)
        self.schedule = settings.retry_schedule
        self.poll = settings.delivery_poll_interval
        self._rng = random.Random()
        self._inflight: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._clients: list[httpx.Client] = []
        self._local = threading.local()
        self._tls = ssl.create_default_context()  # one trust store for every sending thread
        self._endpoint_cache: list[Endpoint] = []
        self._endpoints_expire = 0.0
        self._drained_until: dict[str, float] = {}
        self._signers: dict[tuple[str, ...], list[Webhook]] = {}
        self._done: queue.Queue[Attempt] = queue.Queue()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._dispatcher: threading.Thread | None = None
        self._recorder: threading.Thread | None = None
        self._rotation = itertools.count()
        self._leases: dict[str, float] = {}
        """events held (claimed, not yet recorded) → when their lease lapses (monotonic)"""
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
        """Stop claiming; let in-flight attempts finish (they are bounded by the request
        timeout) and record them; then close."""
        self._stopping.set()
        self._wake.set()
        if self._dispatcher is not None:
            self._dispatcher.join(timeout)
        for pool in list(self._pools.values()):
            pool.shutdown(wait=True)
        if self._recorder is not None:
            self._recorder.join(timeout)
        self._heartbeat.stop()
        self._watchdog.stop()
        for client in self._clients:
            client.close()
        log.info("delivery worker stopped", extra={"worker": self.name})

    def wait(self) -> None:
        while not self._stopping.wait(1.0):
            pass

    def request_stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until the dispatcher has looked at every department afresh (endpoints
        re-read, none skipped), found nothing due, and no attempt is in flight or unrecorded.
        False if that did not happen within ``timeout``. For tests and operators who need to
        know that "nothing more will be sent now" without sleeping."""
        with self._idle:
            self._looks_asked += 1
            asked = self._looks_asked
            self._wake.set()
            return self._idle.wait_for(lambda: self._looks_done >= asked, timeout)

    # -- dispatching --------------------------------------------------------------------------

    def _dispatch_loop(self) -> None:
        while not self._stopping.is_set():
            with self._idle:
                look = self._looks_asked
            if look > self._looks_done:
                self._endpoints_expire = 0.0  # a fresh look: every department, re-read
                self._drained_until.clear()
            try:
                claimed = self._claim_round()
                self._throttle.recovered(CLAIM_FAILED)
            except (
                Exception
            ) as exc:  # the loop outlives any one failure (a dead loop stops retries)
                self._throttle.exception(CLAIM_FAILED, exc)
                claimed = -1
            if claimed == 0 and look > self._looks_done and self._all_idle():
                with self._idle:
                    self._looks_done = look
                    self._idle.notify_all()
            if claimed <= 0:
                self._wake.wait(self.poll)
                self._wake.clear()
                # Let a few more attempts finish, so that one claim takes several events.
                time.sleep(CLAIM_GATHER)

    def _endpoints(self) -> list[Endpoint]:
        """Departments taking deliveries, re-read every ENDPOINT_REFRESH seconds (a 410, a
        reactivation, a new URL or a rotated secret is seen within that)."""
        if time.monotonic() >= self._endpoints_expire:
            with self.database.read() as db:
                self._endpoint_cache = service.endpoints(db, self.vault, utcnow())
            self._endpoints_expire = time.monotonic() + ENDPOINT_REFRESH
        return self._endpoint_cache

    def _claim_round(self) -> int:
        endpoints = self._endpoints()
        if not endpoints:
            return 0
        start = next(self._rotation) % len(endpoints)
        now = time.monotonic()
        claimed_total = 0
        for endpoint in endpoints[start:] + endpoints[:start]:
            department = endpoint.department
            if self._drained_until.get(department, 0.0) > now:
                continue  # nothing was due a moment ago, or the endpoint just answered 410
            with self._lock:
                free = self.cap - self._inflight[department]
            if free <= 0:
                continue
            with self.database.write() as db:
                claimed = service.claim(
                    db,
                    self.vault,
                    department=department,
                    limit=free,
                    worker=self.name,
                    now=utcnow(),
                    lease=self.lease,
                )
            if len(claimed) < free:
                self._drained_until[department] = now + self.poll
            if not claimed:
                continue
            with self._lock:
                self._inflight[department] += len(claimed)
                for c in claimed:
                    self._leases[c.id] = monotonic_of(c.locked_until)
            pool = self._pool(department)
            for c in claimed:
                pool.submit(self._send, endpoint, c)
            claimed_total += len(claimed)
        return claimed_total

    def _pool(self, department: str) -> ThreadPoolExecutor:
        pool = self._pools.get(department)
        if pool is None:
            pool = ThreadPoolExecutor(
                max_workers=self.cap, thread_name_prefix=f"deliver-{department}"
            )
            self._pools[department] = pool
        return pool

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

    def _signing_keys(self, secrets: tuple[str, ...]) -> list[Webhook]:
        keys = self._signers.get(secrets)
        if keys is None:
            keys = [Webhook(s) for s in secrets]
            self._signers[secrets] = keys
        return keys

    # -- sending ------------------------------------------------------------------------------

    def _send(self, endpoint: Endpoint, claimed: Claimed) -> None:
        started = utcnow()
        t0 = time.monotonic()
        with self._lock:
            lease_until = self._leases.get(claimed.id, monotonic_of(claimed.locked_until))
        watch = self._watchdog.watch(
            claimed.id, deadline=t0 + ATTEMPT_BOUND * self.timeout, lease_until=lease_until
        )
        answer = _Answer()
        released = False
        try:
            if watch.cut_at - t0 < MIN_SEND_WINDOW:
                released = True  # the lease is nearly gone (a stalled process): do not send late
            else:
                self._exchange(endpoint, claimed, started, watch, answer)
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
                answer.error = (
                    f"timeout: the attempt passed its deadline of {watch.cut_at - t0:.1f} s"
                )
            duration_ms = (time.monotonic() - t0) * 1000
            # The slot stays taken until the recorder has stored this attempt: attempts never
            # pile up unrecorded (memory, and leases running out before they are recorded).
            self._done.put(
                Attempt(
                    claimed,
                    self.name,
                    started,
                    duration_ms,
                    answer.status_code,
                    answer.error,
                    answer.excerpt,
                    answer.retry_after,
                    released,
                )
            )

    def _exchange(
        self, endpoint: Endpoint, claimed: Claimed, started: datetime, watch: Watch, answer: _Answer
    ) -> None:
        headers = signed_headers(
            self._signing_keys(endpoint.secrets), claimed.id, claimed.body, started
        )
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
            if answer.status_code == 410:
                # Stop claiming for this department at once; the recorded 410 switches the
                # endpoint off for every worker.
                self._drained_until[endpoint.department] = time.monotonic() + 2 * ENDPOINT_REFRESH
                self._endpoints_expire = 0.0
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
            finished = self._stopping.is_set() and not (
                self._dispatcher and self._dispatcher.is_alive()
            )
            if finished and self._all_idle() and self._done.empty() and not pending:
                return
            if not pending:
                try:
                    pending.append(self._done.get(timeout=0.05))
                except queue.Empty:
                    continue
            while len(pending) < RECORD_BATCH:
                try:
                    pending.append(self._done.get_nowait())
                except queue.Empty:
                    break
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

    def _held(self) -> list[str]:
        with self._lock:
            return list(self._leases)

    def _renewed(self, ids: list[str], lease_until: float) -> None:
        with self._lock:
            for i in ids:
                if i in self._leases:
                    self._leases[i] = lease_until
        self._watchdog.renewed(ids, lease_until)

    def _free_slots(self, attempts: list[Attempt]) -> None:
        with self._lock:
            for a in attempts:
                self._inflight[a.claimed.department] -= 1
                self._leases.pop(a.claimed.id, None)
        self._wake.set()

    def _all_idle(self) -> bool:
        with self._lock:
            return all(v == 0 for v in self._inflight.values())

    def _record(self, attempts: list[Attempt]) -> None:
        with self.database.write() as db:
            service.release(db, [a.claimed for a in attempts if a.released])
            recorded = service.record(
                db,
                [a for a in attempts if not a.released],
                outbox=self.outbox,
                schedule=self.schedule,
                now=utcnow(),
                rng=self._rng,
            )
        self._free_slots(attempts)
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
