"""A minimal department endpoint for benchmarks: answers 200 to every POST (after ``DELAY``
seconds, default none) and counts them per path; GET /count returns the counts and first/last
arrival times as JSON (``time.monotonic`` on arrival, before any delay: comparable across
processes on Linux); POST /reset starts the counts afresh.

Run: python receiver.py PORT [DELAY]
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter

import uvicorn

counts: Counter[str] = Counter()
first: dict[str, float] = {}
last: dict[str, float] = {}
DELAY = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0


async def app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    while True:
        message = await receive()
        if not message.get("more_body"):
            break
    path = scope["path"]
    if scope["method"] == "GET" and path == "/count":
        body = json.dumps({"counts": counts, "first": first, "last": last}).encode()
    elif scope["method"] == "POST" and path == "/reset":
        counts.clear()
        first.clear()
        last.clear()
        body = b"{}"
    else:
        now = time.monotonic()  # arrival, before the delay
        counts[path] += 1
        first.setdefault(path, now)
        last[path] = now
        if DELAY:
            await asyncio.sleep(DELAY)
        body = b'{"ok":true}'
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
        backlog=4096,
    )
