"""What a hostile batch costs the server: peak memory, time, answer size, /healthz meanwhile.

Two bodies from issue 14, each under the 4 MB body cap, sent by a centre key to a real
``oneexam serve`` process on a fresh SQLite database:

- ``POST /v1/sessions/{id}/results`` with ``{"results": [{}] * 1_000_000}`` (about 3 MB);
- ``POST /v1/sessions/{id}/registrations:batch`` with ``{"registrations": [1] * 900_000}``.

Peak memory is the server process's ``VmHWM`` (high-water resident set) from ``/proc``, read
after start-up and after the request. Prints figures; asserts nothing.

    .venv/bin/python scripts/bench/huge_batches.py
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import httpx
from common import (
    ADMIN_KEY,
    ROOT,
    free_port,
    fresh_database,
    headers,
    oneexam,
    server_env,
    setup_world,
)


def high_water_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def schedule(http: httpx.Client, key: str) -> str:
    r = http.post(
        "/v1/sessions",
        headers=headers(key),
        json={
            "certificates": ["MEM-LV"],
            "starts_at": "2027-06-15T09:00:00+08:00",
            "ends_at": "2027-06-15T17:00:00+08:00",
            "capacity": 10,
        },
    )
    r.raise_for_status()
    return str(r.json()["id"])


def health_watch(url: str, stop: threading.Event, worst: list[float]) -> None:
    with httpx.Client(base_url=url, timeout=120) as http:
        while not stop.is_set():
            t0 = time.perf_counter()
            http.get("/healthz")
            worst[0] = max(worst[0], time.perf_counter() - t0)
            time.sleep(0.05)


def measure(label: str, path_of: str, body: bytes) -> None:
    with fresh_database("sqlite") as database_url:
        port = free_port()
        env = server_env(database_url, ONEEXAM_PORT=str(port))
        oneexam("migrate", env=env)
        proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "oneexam"), "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=url, timeout=600) as http:
                deadline = time.monotonic() + 30
                while True:
                    try:
                        if http.get("/readyz", timeout=1).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError("oneexam did not start")
                    time.sleep(0.1)
                world = setup_world(http)
                session_id = schedule(http, world["centre_key"])
                before = high_water_mib(proc.pid)
                stop, worst = threading.Event(), [0.0]
                watcher = threading.Thread(target=health_watch, args=(url, stop, worst))
                watcher.start()
                t0 = time.perf_counter()
                r = http.post(
                    path_of.format(session_id=session_id),
                    headers={**headers(world["centre_key"]), "content-type": "application/json"},
                    content=body,
                )
                elapsed = time.perf_counter() - t0
                stop.set()
                watcher.join()
                after = high_water_mib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(
        f"{label}: body {len(body) / 2**20:.1f} MiB -> {r.status_code} in {elapsed:.2f} s, "
        f"answer {len(r.content) / 2**20:.2f} MiB; server peak RSS {before:.0f} -> {after:.0f} MiB "
        f"(+{after - before:.0f} MiB, {(after - before) * 2**20 / len(body):.1f}x the body); "
        f"slowest /healthz meanwhile {worst[0]:.2f} s"
    )


def main() -> None:
    assert ADMIN_KEY
    results = json.dumps({"results": [{}] * 1_000_000}).encode()
    registrations = json.dumps({"registrations": [1] * 900_000}).encode()
    measure("results [{}]*1e6", "/v1/sessions/{session_id}/results", results)
    measure(
        "registrations:batch [1]*9e5",
        "/v1/sessions/{session_id}/registrations:batch",
        registrations,
    )


if __name__ == "__main__":
    main()
