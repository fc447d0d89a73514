"""Delivery throughput against plain senders, against slow departments, and memory on a backlog.

Every figure comes from real ``oneexam worker`` processes on a fresh copy of one backlog
(issuance requests written by a real finalisation), delivering to a local receiver process.

- fast receiver (the default): oneexam's deliveries/s, and in the same run the best of two
  plain senders posting the same signed bodies to the same receiver — one ``httpx.Client``
  shared by 16 threads, and one ``httpx.AsyncClient`` at 8 in flight — and the ratio. One
  worker; on PostgreSQL also two workers.
- ``--latency 0.1``: the receiver answers after 100 ms; deliveries/s at each
  ``--concurrency`` (default 8 and 16 in flight per department) and the ratio to the limit
  departments × concurrency / latency.
- ``--backlog 100000``: seeds that many requests (four departments) and drains them with one
  worker, reporting its peak RSS (``VmHWM``).
- ``--profile DIR``: py-spy samples the (first) worker of each run; a summary is printed and
  the raw stacks are kept in DIR.

A run's rate is timed from the first webhook reaching the receiver to the moment every event
is recorded delivered in the database (start-up is not counted). ``--runs N`` repeats each
measurement on a fresh copy and prints the median; the load average is printed with each run.

Run: scripts/bench_delivery [sqlite|postgres] [--latency S] [--concurrency 8,16]
     [--requests N] [--departments 2|4] [--runs N] [--workers 1,2] [--backlog N] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa
from common import (
    ONEEXAM,
    PII_KEY,
    ROOT,
    backends,
    free_port,
    fresh_database,
    headers,
    id_number,
    running_server,
    server_env,
    setup_world,
    starting_soon,
    wait_for_start,
)
from profile_summary import summarise
from standardwebhooks import Webhook

TARGETS = {
    "mohurd": "MOHURD-ELEC",
    "mohrss": "MOHRSS-ELEC-L5",
    "mem": "MEM-LV",
    "samr": "SAMR-WELD",
}
PLAIN_THREADS = 16
PLAIN_ASYNC = 8
PLAIN_POSTS = 6000
TRACE = bool(os.environ.get("BENCH_TRACE"))
"""Print, every second of a worker run, how many events are recorded and received."""


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f}/{five:.2f}"


class Receiver:
    def __init__(self, delay: float = 0.0) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("receiver.py")),
                str(self.port),
                str(delay),
            ]
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.base}/count", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("receiver did not start")

    def url(self, department: str, prefix: str = "hooks") -> str:
        return f"{self.base}/{prefix}/{department}"

    def first_arrival(self, prefix: str) -> float:
        first = httpx.get(f"{self.base}/count", timeout=10).json()["first"]
        return min(t for path, t in first.items() if path.startswith(f"/{prefix}/"))

    def reset(self) -> None:
        httpx.post(f"{self.base}/reset", timeout=10).raise_for_status()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


@dataclass
class Backlog:
    backend: str
    url: str
    departments: tuple[str, ...]
    secrets: dict[str, str]
    size: int


def build_backlog(
    backend: str, url: str, receiver: Receiver, departments: tuple[str, ...], requests: int
) -> Backlog:
    """A finalised session whose candidates each qualify for one certificate of every
    department; the requests wait in the outbox (the server runs with its worker off)."""
    targets = [TARGETS[d] for d in departments]
    candidates = requests // len(departments)
    with running_server(url) as base, httpx.Client(base_url=base, timeout=600) as http:
        world = setup_world(http, {d: receiver.url(d) for d in departments})
        key = world["centre_key"]
        body = {"certificates": targets, **starting_soon(candidates), "capacity": candidates}
        scheduled = http.post("/v1/sessions", headers=headers(key), json=body).json()
        session = scheduled["id"]
        rows: list[dict] = []  # type: ignore[type-arg]
        for start in range(0, candidates, 1000):
            batch = [
                {"candidate": {"id_number": id_number(n), "name": f"考生{n}"}, "targets": targets}
                for n in range(start, min(start + 1000, candidates))
            ]
            r = http.post(
                f"/v1/sessions/{session}/registrations:batch",
                headers=headers(key),
                json={"registrations": batch},
            )
            r.raise_for_status()
            for item in r.json()["items"]:
                reg = item["registration"]
                for section in reg["required_sections"]:
                    value = (
                        {"passed": True}
                        if section in ("ELEC-TRAINING", "WELD-TESTPIECE")
                        else {"score": 95}
                    )
                    rows.append({"registration_id": reg["id"], "section": section, **value})
        wait_for_start(scheduled)
        for i in range(0, len(rows), 5000):
            http.post(
                f"/v1/sessions/{session}/results",
                headers=headers(key),
                json={"results": rows[i : i + 5000]},
            ).raise_for_status()
        http.post(f"/v1/sessions/{session}/finalise", headers=headers(key)).raise_for_status()
    secrets = {d: world["secrets"][d] for d in departments}
    return Backlog(backend, url, departments, secrets, candidates * len(departments))


@contextmanager
def copy_of(backlog: Backlog) -> Iterator[str]:
    """A fresh copy of the backlog's database (a file copy; a PostgreSQL template)."""
    if backlog.backend == "sqlite":
        source = sa.make_url(backlog.url).database or ""
        with sqlite3.connect(source) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        with tempfile.TemporaryDirectory(prefix="oneexam-bench-") as tmp:
            shutil.copyfile(source, f"{tmp}/copy.db")
            yield f"sqlite:///{tmp}/copy.db"
        return
    base = sa.make_url(backlog.url)
    admin = sa.create_engine(
        base.set(drivername="postgresql+psycopg", database="postgres"),
        isolation_level="AUTOCOMMIT",
    )
    name = f"oneexam_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{base.database}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _engine(url: str) -> sa.Engine:
    from app.db import create_db_engine

    return create_db_engine(url, pool_size=1)


def delivered(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("select count(*) from deliveries where status = 'delivered'")
            ).scalar_one()
        )


# -- oneexam --------------------------------------------------------------------------------


@dataclass
class WorkerRun:
    seconds: float
    rate: float
    peak_rss_kb: int
    profile: Path | None


def run_workers(
    url: str,
    expected: int,
    receiver: Receiver,
    *,
    workers: int = 1,
    concurrency: int = 8,
    profile: Path | None = None,
) -> WorkerRun:
    """Start ``workers`` × ``oneexam worker``; wait until ``expected`` events are delivered."""
    engine = _engine(url)
    receiver.reset()
    env = server_env(url, ONEEXAM_DELIVERY_CONCURRENCY=str(concurrency))
    procs = [subprocess.Popen([*ONEEXAM, "worker"], cwd=ROOT, env=env) for _ in range(workers)]
    spies: list[subprocess.Popen[bytes]] = []
    peak = 0
    next_trace = time.monotonic() + 1
    try:
        while (done := delivered(engine)) < expected:
            if TRACE and time.monotonic() >= next_trace:
                next_trace += 1
                sent = sum(
                    httpx.get(f"{receiver.base}/count", timeout=10).json()["counts"].values()
                )
                print(f"  {done} recorded, {sent} received, {load()}", file=sys.stderr)
            if not spies and profile is not None and done > 0:
                # started and delivering: start-up is not sampled
                spies = _py_spy(procs[0].pid, profile)
            time.sleep(0.05)
            peak = max(peak, *(_peak_rss(p.pid) for p in procs))
            if any(p.poll() is not None for p in procs):
                raise RuntimeError("a worker exited")
        ended = time.monotonic()
        peak = max(peak, *(_peak_rss(p.pid) for p in procs))
    finally:
        for spy in spies:
            spy.send_signal(signal.SIGINT)
        for spy in spies:
            spy.wait(timeout=60)
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
        engine.dispose()
    seconds = ended - receiver.first_arrival("hooks")
    return WorkerRun(seconds, expected / seconds, peak, profile)


def _py_spy(pid: int, out: Path) -> list[subprocess.Popen[bytes]]:
    """Two samplers: every running thread (``out``), and only the thread holding the GIL
    (``out`` with ``.gil`` before the suffix; the Python work, which one core bounds)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    spies = []
    for extra, path in (([], out), (["--gil"], out.with_suffix(".gil.txt"))):
        spies.append(
            subprocess.Popen(
                [
                    str(ROOT / ".venv" / "bin" / "py-spy"),
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    "100",
                    "--nonblocking",
                    "--threads",
                    *extra,
                    "--format",
                    "raw",
                    "--output",
                    str(path),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    return spies


def _peak_rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# -- plain senders --------------------------------------------------------------------------


def signed_work(url: str, limit: int) -> list[tuple[str, str, bytes]]:
    """(department, webhook-id, exact body) of the backlog's events, decrypted up front."""
    from app.crypto import Vault, decode_key
    from app.delivery.outbox import BODY_CONTEXT

    vault = Vault(decode_key(PII_KEY))
    engine = _engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("select department_code, id, body_encrypted from deliveries limit :n"),
            {"n": limit},
        ).all()
    engine.dispose()
    return [(d, i, vault.decrypt(b, context=BODY_CONTEXT)) for d, i, b in rows]


def _headers(key: Webhook, msg_id: str, body: bytes) -> dict[str, str]:
    at = datetime.now(UTC)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": key.sign(msg_id, at, body.decode()),
    }


def plain_threads(
    receiver: Receiver, work: list[tuple[str, str, bytes]], secrets: dict[str, str]
) -> float:
    """One ``httpx.Client`` shared by 16 threads, signing and posting each body."""
    keys = {d: Webhook(s) for d, s in secrets.items()}
    limits = httpx.Limits(max_connections=PLAIN_THREADS, max_keepalive_connections=PLAIN_THREADS)
    with httpx.Client(limits=limits, timeout=15) as client:
        lock = threading.Lock()
        items = iter(work)

        def loop() -> None:
            while True:
                with lock:
                    item = next(items, None)
                if item is None:
                    return
                d, msg_id, body = item
                url = receiver.url(d, "ceiling")
                client.post(
                    url, content=body, headers=_headers(keys[d], msg_id, body)
                ).raise_for_status()

        started = time.perf_counter()
        with ThreadPoolExecutor(PLAIN_THREADS) as pool:
            for f in [pool.submit(loop) for _ in range(PLAIN_THREADS)]:
                f.result()
        return len(work) / (time.perf_counter() - started)


def plain_async(
    receiver: Receiver, work: list[tuple[str, str, bytes]], secrets: dict[str, str]
) -> float:
    """One ``httpx.AsyncClient`` with 8 posts in flight, signing and posting each body."""
    keys = {d: Webhook(s) for d, s in secrets.items()}

    async def main() -> float:
        limits = httpx.Limits(max_connections=PLAIN_ASYNC, max_keepalive_connections=PLAIN_ASYNC)
        async with httpx.AsyncClient(limits=limits, timeout=15) as client:
            items = iter(work)

            async def loop() -> None:
                for d, msg_id, body in items:
                    url = receiver.url(d, "ceiling")
                    r = await client.post(
                        url, content=body, headers=_headers(keys[d], msg_id, body)
                    )
                    r.raise_for_status()

            started = time.perf_counter()
            await asyncio.gather(*(loop() for _ in range(PLAIN_ASYNC)))
            return len(work) / (time.perf_counter() - started)

    return asyncio.run(main())


# -- the measurements -----------------------------------------------------------------------


def _profile_path(args: argparse.Namespace, label: str) -> Path | None:
    return Path(args.profile) / f"{label}.txt" if args.profile else None


def _print_profile(run: WorkerRun) -> None:
    if run.profile is None:
        return
    for path, what in (
        (run.profile, "running threads"),
        (run.profile.with_suffix(".gil.txt"), "holding the GIL"),
    ):
        if path.exists():
            print(f"           profile, {what}:")
            print(summarise(path.read_text(), indent="             "))


def fast(backlog: Backlog, receiver: Receiver, args: argparse.Namespace) -> None:
    b, n = backlog.backend, backlog.size
    counts = (
        [int(w) for w in args.workers.split(",")]
        if args.workers
        else ([1, 2] if b == "postgres" else [1])
    )
    ratios: dict[int, list[float]] = {w: [] for w in counts}
    rates: dict[int, list[float]] = {w: [] for w in counts}
    for run in range(1, args.runs + 1):
        with copy_of(backlog) as url:
            work = signed_work(url, min(n, PLAIN_POSTS))
        threads = plain_threads(receiver, work, backlog.secrets)
        asynchronous = plain_async(receiver, work, backlog.secrets)
        best = max(threads, asynchronous)
        print(
            f"{b:8} run {run}: plain httpx.Client in {PLAIN_THREADS} threads {threads:,.0f} posts/s, "
            f"httpx.AsyncClient at {PLAIN_ASYNC} in flight {asynchronous:,.0f} posts/s ({load()})"
        )
        for w in counts:
            with copy_of(backlog) as url:
                r = run_workers(
                    url,
                    n,
                    receiver,
                    workers=w,
                    concurrency=args.concurrency_fast,
                    profile=_profile_path(args, f"{b}-fast-{w}w-run{run}"),
                )
            rates[w].append(r.rate)
            ratios[w].append(r.rate / best)
            print(
                f"{b:8} run {run}: oneexam, {w} worker{'s' if w > 1 else ''}, {n:,} requests to "
                f"{len(backlog.departments)} departments × {args.concurrency_fast}: {r.seconds:.2f} s, "
                f"{r.rate:,.0f} deliveries/s, ratio to the best plain sender {r.rate / best:.2f} "
                f"(peak RSS {r.peak_rss_kb / 1024:.0f} MB; {load()})"
            )
            _print_profile(r)
    for w in counts:
        print(
            f"{b:8} median of {args.runs}: {w} worker{'s' if w > 1 else ''} {statistics.median(rates[w]):,.0f} "
            f"deliveries/s, ratio {statistics.median(ratios[w]):.2f} (runs: {', '.join(f'{x:.2f}' for x in ratios[w])})"
        )


def latency(backlog: Backlog, receiver: Receiver, args: argparse.Namespace) -> None:
    b, n, deps = backlog.backend, backlog.size, len(backlog.departments)
    for c in [int(x) for x in args.concurrency.split(",")]:
        limit = deps * c / args.latency
        ratios = []
        for run in range(1, args.runs + 1):
            with copy_of(backlog) as url:
                r = run_workers(
                    url,
                    n,
                    receiver,
                    concurrency=c,
                    profile=_profile_path(args, f"{b}-latency-{c}-run{run}"),
                )
            ratios.append(r.rate / limit)
            print(
                f"{b:8} run {run}: departments answering after {args.latency * 1000:.0f} ms, "
                f"{deps} × {c} in flight: {n:,} in {r.seconds:.2f} s, {r.rate:,.0f} deliveries/s; "
                f"limit {deps} × {c} / {args.latency:g} s = {limit:,.0f}/s; ratio {r.rate / limit:.2f} ({load()})"
            )
            _print_profile(r)
        print(
            f"{b:8} median of {args.runs} at {c} in flight: ratio {statistics.median(ratios):.2f}"
        )


def memory(backend: str, args: argparse.Namespace) -> None:
    receiver = Receiver()
    try:
        with fresh_database(backend) as url:
            started = time.perf_counter()
            backlog = build_backlog(backend, url, receiver, tuple(TARGETS), args.backlog)
            print(
                f"{backend:8} built a {backlog.size:,}-request backlog (4 departments) in {time.perf_counter() - started:.0f} s"
            )
            r = run_workers(url, backlog.size, receiver, concurrency=args.concurrency_fast)
            print(
                f"{backend:8} one worker drained {backlog.size:,} requests in {r.seconds:.0f} s "
                f"({r.rate:,.0f}/s); peak RSS {r.peak_rss_kb / 1024:.0f} MB ({load()})"
            )
    finally:
        receiver.close()


def throughput(backend: str, args: argparse.Namespace) -> None:
    receiver = Receiver(args.latency or 0.0)
    departments = tuple(TARGETS)[: args.departments]
    try:
        with fresh_database(backend) as url:
            backlog = build_backlog(backend, url, receiver, departments, args.requests)
            (latency if args.latency else fast)(backlog, receiver, args)
    finally:
        receiver.close()


def arguments() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("backend", nargs="*", default=[], help="sqlite, postgres (default: both)")
    p.add_argument("--latency", type=float, default=0.0, help="seconds before the receiver answers")
    p.add_argument("--concurrency", default="8,16", help="in flight per department (--latency)")
    p.add_argument(
        "--concurrency-fast", type=int, default=8, help="in flight per department (fast)"
    )
    p.add_argument("--requests", type=int, default=None, help="requests in the backlog")
    p.add_argument("--departments", type=int, default=2, choices=[1, 2, 3, 4])
    p.add_argument("--workers", default=None, help="worker counts (default 1; 1,2 on PostgreSQL)")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--backlog", type=int, default=0, help="seed this many and report peak RSS")
    p.add_argument("--profile", default=None, help="directory for py-spy's raw stacks")
    args = p.parse_args()
    if set(args.backend) - {"sqlite", "postgres"}:
        p.error("backends are sqlite and postgres")
    if args.requests is None:
        args.requests = 6000 if args.latency else 10_000
    return args


if __name__ == "__main__":
    args = arguments()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, {load()}")
    for b in backends(args.backend):
        if args.backlog:
            memory(b, args)
        else:
            throughput(b, args)
