"""Record the results of a 10,000-candidate session (4 sections each) over HTTP in batches of
1,000, then finalise; compare with a bare SQLAlchemy Core executemany of the same rows (the
ceiling for any HTTP path). Finalise is timed at 1,000 and 10,000 candidates to show its cost
per candidate stays flat.

Run: scripts/bench_results [sqlite] [postgres] [--candidates N]
"""

from __future__ import annotations

import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import sqlalchemy as sa
from common import (
    backends,
    fresh_database,
    headers,
    id_number,
    running_server,
    setup_world,
    starting_soon,
    statements_per_request,
    wait_for_start,
)

ROUTE = "/v1/sessions/{session_id}/results"
TARGETS = ["MEM-LV", "MOHURD-ELEC", "MOHRSS-ELEC-L5"]


def prepare(http: httpx.Client, key: str, candidates: int, offset: int) -> tuple[str, list[dict]]:  # type: ignore[type-arg]
    body = {"certificates": TARGETS, **starting_soon(candidates), "capacity": candidates}
    scheduled = http.post("/v1/sessions", headers=headers(key), json=body).json()
    session = scheduled["id"]
    rows = []
    for start in range(0, candidates, 1000):
        batch = [
            {
                "candidate": {"id_number": id_number(offset + n), "name": f"考生{n}"},
                "targets": TARGETS,
            }
            for n in range(start, min(start + 1000, candidates))
        ]
        r = http.post(
            f"/v1/sessions/{session}/registrations:batch",
            headers=headers(key),
            json={"registrations": batch},
        )
        r.raise_for_status()
        for i, item in enumerate(r.json()["items"]):
            reg = item["registration"]["id"]
            n = start + i
            rows += [
                {"registration_id": reg, "section": "ELEC-TRAINING", "passed": n % 17 != 0},
                {"registration_id": reg, "section": "ELEC-THEORY", "score": 55 + n % 45 + 0.5},
                {"registration_id": reg, "section": "ELEC-PRACTICAL", "score": 60 + n % 40},
                {"registration_id": reg, "section": "BUILD-SAFETY", "score": 65 + n % 35},
            ]
    wait_for_start(scheduled)
    return session, rows


def record(http: httpx.Client, key: str, session: str, rows: list[dict], batch: int) -> float:  # type: ignore[type-arg]
    started = time.perf_counter()
    for i in range(0, len(rows), batch):
        r = http.post(
            f"/v1/sessions/{session}/results",
            headers=headers(key),
            json={"results": rows[i : i + batch]},
        )
        r.raise_for_status()
    return time.perf_counter() - started


def finalise(http: httpx.Client, key: str, session: str) -> tuple[float, dict]:  # type: ignore[type-arg]
    started = time.perf_counter()
    r = http.post(f"/v1/sessions/{session}/finalise", headers=headers(key))
    r.raise_for_status()
    return time.perf_counter() - started, r.json()


def ceiling(url: str, rows: list[dict], batch: int) -> float:  # type: ignore[type-arg]
    """Rows/s of a bare Core executemany of the same rows into a scratch table, same batches."""
    from app.db import create_db_engine

    engine = create_db_engine(url)
    metadata = sa.MetaData()
    scratch = sa.Table(
        f"scratch_{uuid.uuid4().hex[:8]}",
        metadata,
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("session_id", sa.String(40)),
        sa.Column("registration_id", sa.String(40)),
        sa.Column("section", sa.String(32)),
        sa.Column("score", sa.Numeric(5, 1)),
        sa.Column("passed", sa.Boolean),
        sa.Column("recorded_at", sa.DateTime(timezone=True)),
        sa.Column("recorded_by", sa.String(80)),
        sa.UniqueConstraint("registration_id", "section"),
    )
    metadata.create_all(engine)
    now = datetime.now(UTC)
    values = [
        {
            "id": uuid.uuid4().hex,
            "session_id": "ses",
            "registration_id": r["registration_id"],
            "section": r["section"],
            "score": Decimal(str(r["score"])) if "score" in r else None,
            "passed": r.get("passed"),
            "recorded_at": now,
            "recorded_by": "bench",
        }
        for r in rows
    ]
    started = time.perf_counter()
    for i in range(0, len(values), batch):
        with engine.begin() as conn:
            conn.execute(scratch.insert(), values[i : i + batch])
    elapsed = time.perf_counter() - started
    metadata.drop_all(engine)
    engine.dispose()
    return len(values) / elapsed


def run(backend: str, candidates: int) -> None:
    with (
        fresh_database(backend) as url,
        running_server(url) as base,
        httpx.Client(base_url=base, timeout=600) as http,
    ):
        key = setup_world(http)["centre_key"]
        session, rows = prepare(http, key, candidates, 0)
        before = statements_per_request(http, "POST", ROUTE)
        elapsed = record(http, key, session, rows, 1000)
        after = statements_per_request(http, "POST", ROUTE)
        per_batch = (after[0] - before[0]) / (after[1] - before[1])
        rate = len(rows) / elapsed
        top = ceiling(url, rows, 1000)
        print(
            f"{backend:8} {len(rows):,} results in batches of 1,000: {elapsed:.2f} s, {rate:,.0f} results/s; "
            f"{per_batch:.1f} SQL statements per batch"
        )
        print(
            f"{backend:8} ceiling (bare Core executemany, same rows and batches): {top:,.0f} rows/s; ratio {rate / top:.2f}"
        )
        big_seconds, summary = finalise(http, key, session)

        smalls = []
        for repeat in range(3):  # the small case is short: take the median of three
            small_session, small_rows = prepare(
                http, key, 1000, candidates + 20_000 + repeat * 1000
            )
            record(http, key, small_session, small_rows, 1000)
            smalls.append(finalise(http, key, small_session)[0])
        small_seconds = sorted(smalls)[1]
        print(
            f"{backend:8} finalise {candidates:,} candidates: {big_seconds:.2f} s ({big_seconds / candidates * 1000:.3f} ms/candidate, "
            f"{summary['issuance_requests']:,} issuance requests); 1,000 candidates: {small_seconds:.2f} s "
            f"({small_seconds / 1000 * 1000:.3f} ms/candidate)"
        )

        for size in (100, 5000):
            s, r = prepare(http, key, max(size // 4, 25), candidates + 1000 + size)
            before = statements_per_request(http, "POST", ROUTE)
            record(http, key, s, r[:size], size)
            after = statements_per_request(http, "POST", ROUTE)
            print(
                f"{backend:8} batch of {len(r[:size]):>5} results: {after[0] - before[0]:.0f} SQL statements"
            )


if __name__ == "__main__":
    args = sys.argv[1:]
    n = int(args[args.index("--candidates") + 1]) if "--candidates" in args else 10_000
    for b in backends(args):
        run(b, n)
