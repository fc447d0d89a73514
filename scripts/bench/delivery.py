"""Delivery throughput, isolation and memory, with one ``oneexam worker`` and a local receiver.

1. 10,000 requests across four departments: deliveries/s of oneexam, and in the same run of a
   bare ``httpx.AsyncClient`` posting the same signed bodies at the same concurrency (the
   ceiling), and the ratio.
2. Isolation: the same backlog with one department refusing connections; the three healthy
   departments' throughput against their throughput with all four healthy.
3. Memory: peak RSS of the worker draining a 100,000-request backlog (``--backlog N``).

Run: scripts/bench_delivery [sqlite|postgres] [--backlog 100000] [--skip-memory]
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa
from common import (
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

DEPARTMENTS = ("mem", "mohurd", "samr", "mohrss")
TARGETS = ["MEM-LV", "MOHURD-ELEC", "SAMR-WELD", "MOHRSS-ELEC-L5"]
CONCURRENCY = 8  # ONEEXAM_DELIVERY_CONCURRENCY: in-flight per department


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("receiver.py")), str(self.port)]
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

    def url(self, department: str) -> str:
        return f"{self.base}/hooks/{department}"

    def counts(self) -> dict:  # type: ignore[type-arg]
        return httpx.get(f"{self.base}/count", timeout=10).json()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def build_backlog(url: str, receiver: Receiver, candidates: int) -> None:
    """A finalised session whose candidates qualify for all four departments' certificates;
    the requests wait in the outbox (the server runs with its worker off)."""
    with running_server(url) as base, httpx.Client(base_url=base, timeout=600) as http:
        key = setup_world(http, {d: receiver.url(d) for d in DEPARTMENTS})["centre_key"]
        body = {"certificates": TARGETS, **starting_soon(candidates), "capacity": candidates}
        scheduled = http.post("/v1/sessions", headers=headers(key), json=body).json()
        session = scheduled["id"]
        rows: list[dict] = []  # type: ignore[type-arg]
        for start in range(0, candidates, 1000):
            batch = [
                {"candidate": {"id_number": id_number(n), "name": f"考生{n}"}, "targets": TARGETS}
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


def delivered(engine: sa.Engine, departments: tuple[str, ...] = DEPARTMENTS) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "select count(*) from deliveries where status = 'delivered' and department_code in :d"
                ).bindparams(sa.bindparam("d", expanding=True)),
                {"d": list(departments)},
            ).scalar_one()
        )


def run_worker(
    url: str, expected: int, departments: tuple[str, ...] = DEPARTMENTS
) -> tuple[float, int]:
    """Start one ``oneexam worker``, wait until ``expected`` events of these departments are
    delivered; return (seconds, peak RSS in kB)."""
    from app.db import create_db_engine

    engine = create_db_engine(url)
    env = server_env(url, ONEEXAM_DELIVERY_CONCURRENCY=str(CONCURRENCY))
    started = time.perf_counter()
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "oneexam"), "worker"], env=env)
    peak = 0
    try:
        while delivered(engine, departments) < expected:
            time.sleep(0.1)
            peak = max(peak, _peak_rss(proc.pid))
            if proc.poll() is not None:
                raise RuntimeError("the worker exited")
        elapsed = time.perf_counter() - started
        peak = max(peak, _peak_rss(proc.pid))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        engine.dispose()
    return elapsed, peak


def _peak_rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


async def bare_ceiling(url: str, receiver: Receiver, limit: int) -> float:
    """The same signed bodies posted by one ``httpx.AsyncClient`` at the same concurrency."""
    from standardwebhooks import Webhook

    from app.config import Settings
    from app.crypto import load_vault
    from app.db import Database, utcnow
    from app.delivery import outbox, service
    from app.delivery.models import Delivery
    from app.delivery.signing import signed_headers

    database = Database(url)
    vault = load_vault(Settings(database_url=url, pii_key=server_env(url)["ONEEXAM_PII_KEY"]))
    with database.read() as db:
        endpoints = {e.department: e for e in service.endpoints(db, vault, utcnow())}
        rows = db.scalars(sa.select(Delivery).limit(limit)).all()
        work = [
            (endpoints[d.department_code], d.id, outbox.decrypt_body(vault, d.body_encrypted))
            for d in rows
        ]
    database.dispose()
    keys = {d: [Webhook(s) for s in e.secrets] for d, e in endpoints.items()}
    semaphore = asyncio.Semaphore(CONCURRENCY * len(DEPARTMENTS))
    async with httpx.AsyncClient(
        limits=httpx.Limits(max_connections=CONCURRENCY * len(DEPARTMENTS)), timeout=15
    ) as client:

        async def post(endpoint, msg_id: str, body: bytes) -> None:  # type: ignore[no-untyped-def]
            async with semaphore:
                h = signed_headers(keys[endpoint.department], msg_id, body, utcnow())
                (
                    await client.post(
                        endpoint.url.replace("/hooks/", "/ceiling/"), content=body, headers=h
                    )
                ).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(post(*w) for w in work))
        return len(work) / (time.perf_counter() - started)


def throughput_and_isolation(backend: str, candidates: int) -> None:
    receiver = Receiver()
    try:
        with fresh_database(backend) as url:
            build_backlog(url, receiver, candidates)
            total = candidates * 4
            ceiling = asyncio.run(bare_ceiling(url, receiver, total))
            if backend == "sqlite":
                spare = Path(tempfile.mkdtemp()) / "copy.db"
                shutil.copyfile(sa.make_url(url).database or "", spare)
            seconds, rss = run_worker(url, total)
            rate = total / seconds
            print(
                f"{backend:8} one worker, {total:,} requests to 4 departments: {seconds:.2f} s, {rate:,.0f} deliveries/s (peak RSS {rss / 1024:.0f} MB)"
            )
            print(
                f"{backend:8} bare httpx.AsyncClient, same signed bodies, {CONCURRENCY * 4} in flight: {ceiling:,.0f} posts/s; ratio {rate / ceiling:.2f}"
            )
            healthy = ("mem", "mohurd", "mohrss")
            healthy_rate_all = 3 * candidates / seconds
            if backend == "sqlite":
                dead_url = f"sqlite:///{spare}"
                closed = f"http://127.0.0.1:{free_port()}/hooks/samr"
                engine = sa.create_engine(dead_url)
                with engine.begin() as conn:
                    conn.execute(
                        sa.text("update departments set webhook_url = :u where code = 'samr'"),
                        {"u": closed},
                    )
                engine.dispose()
                seconds_dead, _ = run_worker(dead_url, 3 * candidates, healthy)
                healthy_rate_dead = 3 * candidates / seconds_dead
                print(
                    f"{backend:8} isolation: healthy three with samr refusing connections {healthy_rate_dead:,.0f}/s vs {healthy_rate_all:,.0f}/s "
                    f"with all four healthy; ratio {healthy_rate_dead / healthy_rate_all:.2f}"
                )
                shutil.rmtree(spare.parent, ignore_errors=True)
    finally:
        receiver.close()


def memory(backend: str, backlog: int) -> None:
    receiver = Receiver()
    try:
        with fresh_database(backend) as url:
            started = time.perf_counter()
            build_backlog(url, receiver, backlog // 4)
            print(
                f"{backend:8} built a {backlog:,}-request backlog in {time.perf_counter() - started:.0f} s"
            )
            seconds, rss = run_worker(url, backlog)
            print(
                f"{backend:8} one worker drained {backlog:,} requests in {seconds:.0f} s ({backlog / seconds:,.0f}/s); peak RSS {rss / 1024:.0f} MB"
            )
    finally:
        receiver.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    backlog = int(args[args.index("--backlog") + 1]) if "--backlog" in args else 100_000
    for b in backends(args):
        throughput_and_isolation(b, 2500)
        if "--skip-memory" not in args:
            memory(b, backlog)
