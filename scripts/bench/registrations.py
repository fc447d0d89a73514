"""Register 5,000 candidates in batches of 500 into one session, over HTTP, on each backend.

Prints registrations/s and the SQL statements each batch request sent; then the statements per
batch for batch sizes 50 and 1,000, to show they do not grow with the batch size.
Run: scripts/bench_registrations [sqlite] [postgres]
"""

from __future__ import annotations

import sys
import time

import httpx
from common import (
    backends,
    fresh_database,
    headers,
    id_number,
    running_server,
    setup_world,
    statements_per_request,
)

ROUTE = "/v1/sessions/{session_id}/registrations:batch"
TARGETS = [
    ["MEM-LV", "MOHURD-ELEC", "MOHRSS-ELEC-L5"],
    ["MOHURD-ELEC", "MOHRSS-ELEC-L4"],
    ["MOHRSS-ELEC-L5"],
]


def rows(start: int, count: int) -> list[dict]:  # type: ignore[type-arg]
    out = []
    for n in range(start, start + count):
        kind = n % 3
        held = (
            [{"certificate": "MEM-LV", "number": f"LV{n:06d}", "valid_until": "2031-01-01"}]
            if kind == 1
            else []
        )
        out.append(
            {
                "candidate": {"id_number": id_number(n), "name": f"考生{n}"},
                "targets": TARGETS[kind],
                "held": held,
            }
        )
    return out


def schedule(http: httpx.Client, key: str, capacity: int) -> str:
    body = {
        "certificates": ["MEM-LV", "MOHURD-ELEC", "MOHRSS-ELEC-L5", "MOHRSS-ELEC-L4"],
        "starts_at": "2026-12-15T09:00:00+08:00",
        "ends_at": "2026-12-15T17:00:00+08:00",
        "capacity": capacity,
    }
    r = http.post("/v1/sessions", headers=headers(key), json=body)
    r.raise_for_status()
    return str(r.json()["id"])


def run(backend: str, total: int = 5000, batch: int = 500) -> None:
    with (
        fresh_database(backend) as url,
        running_server(url) as base,
        httpx.Client(base_url=base, timeout=120) as http,
    ):
        world = setup_world(http)
        key = world["centre_key"]
        session = schedule(http, key, total)
        payloads = [rows(i, batch) for i in range(0, total, batch)]
        before = statements_per_request(http, "POST", ROUTE)
        started = time.perf_counter()
        for payload in payloads:
            r = http.post(
                f"/v1/sessions/{session}/registrations:batch",
                headers=headers(key),
                json={"registrations": payload},
            )
            r.raise_for_status()
            assert r.json()["created"] == len(payload), r.json()["items"][0]
        elapsed = time.perf_counter() - started
        after = statements_per_request(http, "POST", ROUTE)
        per_batch = (after[0] - before[0]) / (after[1] - before[1])
        print(
            f"{backend:8} {total} registrations in batches of {batch}: {elapsed:.2f} s, {total / elapsed:,.0f} registrations/s, {per_batch:.1f} SQL statements per batch"
        )

        offset = total
        for size in (50, 1000):
            session = schedule(http, key, size)
            before = statements_per_request(http, "POST", ROUTE)
            http.post(
                f"/v1/sessions/{session}/registrations:batch",
                headers=headers(key),
                json={"registrations": rows(offset, size)},
            ).raise_for_status()
            after = statements_per_request(http, "POST", ROUTE)
            offset += size
            print(f"{backend:8} batch of {size:>4}: {after[0] - before[0]:.0f} SQL statements")


if __name__ == "__main__":
    for b in backends(sys.argv[1:]):
        run(b)
