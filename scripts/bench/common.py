"""Shared machinery for the benchmark scripts: a real ``oneexam serve`` process on a fresh
database (SQLite file or a throwaway PostgreSQL database), the reference world, metrics reads.

Benchmarks print figures; they assert nothing about speed.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.rules.idnumber import check_character  # noqa: E402

ADMIN_KEY = "oek_bench-admin-key-000000000000000000000000"
PII_KEY = "YmVuY2gtb25seS1waWkta2V5LTAxMjM0NTY3ODlhYmM="
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
REFERENCE = ROOT / "app" / "catalogue" / "reference"
ONEEXAM = [sys.executable, "-m", "app.cli"]
"""The ``oneexam`` command of this checkout, run with ``cwd=ROOT`` (the virtualenv's own
``oneexam`` script imports whichever checkout it was installed from)."""


def starting_soon(registrations: int) -> dict[str, str]:
    """``starts_at``/``ends_at`` of a session starting a few seconds from now, late enough for
    ``registrations`` candidates to be registered first (registration closes at the start)."""
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5 + registrations / 500)
    return {"starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=8)).isoformat()}


def wait_for_start(session: dict[str, Any]) -> None:
    """Results and finalisation open at ``starts_at``: wait until the clock has passed it."""
    starts = datetime.fromisoformat(session["starts_at"])
    deadline = time.monotonic() + (starts - datetime.now(UTC)).total_seconds() + 30
    while datetime.now(UTC) <= starts:
        if time.monotonic() > deadline:
            raise RuntimeError("the clock did not reach the start of the session")
        time.sleep(0.05)


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def id_number(n: int) -> str:
    """A distinct valid ID number for each n (birth dates spread over 1970-1999)."""
    born = date(1970 + (n // 1000) % 30, 1 + (n // 28) % 12, 1 + n % 28)
    body = f"{110101 + (n // 30000) % 800000:06d}{born:%Y%m%d}{n % 1000:03d}"
    return body + check_character(body)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_url() -> str | None:
    """The PostgreSQL to use, or None (with a printed reason) when there is none."""
    url = (
        os.environ.get("ONEEXAM_BENCH_POSTGRES_URL")
        or os.environ.get("ONEEXAM_TEST_POSTGRES_URL")
        or DEFAULT_POSTGRES
    )
    try:
        engine = sa.create_engine(sa.make_url(url).set(drivername="postgresql+psycopg"))
        with engine.connect():
            pass
        engine.dispose()
        return url
    except Exception as exc:
        print(f"PostgreSQL not reachable at {url}: skipped ({type(exc).__name__})")
        return None


@contextmanager
def fresh_database(backend: str) -> Iterator[str]:
    """An empty database URL on the backend ('sqlite' or 'postgres'), removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="oneexam-bench-") as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    base = postgres_url()
    assert base is not None
    admin = sa.create_engine(
        sa.make_url(base).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    name = f"oneexam_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONEEXAM_")}
    env.update(
        {
            "ONEEXAM_DATABASE_URL": database_url,
            "ONEEXAM_ADMIN_KEY": ADMIN_KEY,
            "ONEEXAM_PII_KEY": PII_KEY,
            "ONEEXAM_WORKER": "off",
            "ONEEXAM_LOG_LEVEL": "WARNING",
            "ONEEXAM_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        }
    )
    env.update(extra)
    return env


def oneexam(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ONEEXAM, *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )


@contextmanager
def running_server(database_url: str, **extra_env: str) -> Iterator[str]:
    """Migrate, then ``oneexam serve`` in its own process; yields its base URL."""
    port = free_port()
    env = server_env(database_url, ONEEXAM_PORT=str(port), **extra_env)
    oneexam("migrate", env=env)
    proc = subprocess.Popen(
        [*ONEEXAM, "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("oneexam did not start")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def setup_world(http: httpx.Client, webhook_urls: dict[str, str] | None = None) -> dict[str, Any]:
    """Reference departments and catalogue, a centre and its key; returns keys and secrets."""
    admin = headers(ADMIN_KEY)
    world: dict[str, Any] = {"secrets": {}, "department_keys": {}}
    for dept in json.loads((REFERENCE / "departments.json").read_text(encoding="utf-8")):
        if webhook_urls and dept["code"] in webhook_urls:
            dept["webhook_url"] = webhook_urls[dept["code"]]
        r = http.post("/v1/departments", headers=admin, json=dept)
        r.raise_for_status()
        world["secrets"][dept["code"]] = r.json()["signing_secret"]
        k = http.post(
            "/v1/api-keys", headers=admin, json={"role": "department", "subject": dept["code"]}
        )
        world["department_keys"][dept["code"]] = k.json()["key"]
    catalogue = json.loads((REFERENCE / "electrician-welder.json").read_text(encoding="utf-8"))
    http.put("/v1/catalogue", headers=admin, json=catalogue).raise_for_status()
    http.post(
        "/v1/centres", headers=admin, json={"code": "BENCH", "name": "基准考点"}
    ).raise_for_status()
    k = http.post("/v1/api-keys", headers=admin, json={"role": "centre", "subject": "BENCH"})
    world["centre_key"] = k.json()["key"]
    return world


def statements_per_request(http: httpx.Client, method: str, route: str) -> tuple[float, float]:
    """(sum, count) of the statements-per-request histogram for one route, from /metrics."""
    text = http.get("/metrics").text
    found = {"sum": 0.0, "count": 0.0}
    for kind in found:
        pattern = rf'^oneexam_db_statements_per_request_{kind}\{{method="{method}",route="{re.escape(route)}"\}} (\S+)$'
        m = re.search(pattern, text, re.M)
        if m:
            found[kind] = float(m.group(1))
    return found["sum"], found["count"]


def backends(argv: list[str]) -> list[str]:
    """Backends to run: those named on the command line, else SQLite and (if reachable) PostgreSQL."""
    chosen = [a for a in argv if a in ("sqlite", "postgres")]
    if chosen:
        return chosen
    return ["sqlite", "postgres"] if postgres_url() else ["sqlite"]
