"""Summarise py-spy's raw (collapsed) stacks of a delivery worker: where the CPU goes, by
thread and by activity, and the busiest leaf functions.

py-spy counts only threads that are running (or waiting on the GIL), not idle ones, so the
shares are of the worker's CPU.

Run: python profile_summary.py FILE
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

ACTIVITIES = [
    ("signing", ("signing.py", "standardwebhooks", "hmac.py")),
    ("decrypting bodies and secrets", ("app/crypto.py", "crypto.py (", "aead")),
    ("logging", ("logging/__init__.py", "app/logs.py")),
    ("metrics", ("prometheus_client",)),
    ("database: driver (sqlite3/psycopg)", ("sqlite3", "psycopg")),
    ("database: SQLAlchemy", ("sqlalchemy",)),
    ("HTTP: socket calls", ("socket.py", "_backends/sync.py", "ssl.py")),
    ("HTTP: httpx/httpcore/h11", ("httpx", "httpcore", "h11")),
    ("leases (heartbeat, watchdog)", ("leases.py",)),
]


def _activity(frames: list[str]) -> str:
    leaf = frames[-1]
    for label, needles in ACTIVITIES:
        if label.startswith("HTTP: socket"):
            if any(n in leaf for n in needles):
                return label
            continue
        if any(n in f for f in frames for n in needles):
            return label
    return "other (worker bookkeeping, queues, locks)"


def _thread(root: str) -> str:
    name = root.split(":", 1)[-1].strip()
    name = re.sub(r"_\d+$", "", name)  # ThreadPoolExecutor's deliver-mem_3 → deliver-mem
    if name.startswith("deliver-"):
        return "senders (deliver-*)"
    return name


def summarise(text: str, *, indent: str = "", top: int = 8) -> str:
    threads: Counter[str] = Counter()
    activities: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        threads[_thread(frames[0])] += n
        activities[_activity(frames[1:] or frames)] += n
        leaves[re.sub(r":\d+\)$", ")", frames[-1])] += n
    if not total:
        return f"{indent}(no samples)"

    def share(c: Counter[str], limit: int) -> str:
        return ", ".join(f"{k} {v / total:.0%}" for k, v in c.most_common(limit))

    return "\n".join(
        [
            f"{indent}profile: {total:,} samples",
            f"{indent}by thread: {share(threads, top)}",
            f"{indent}by activity: {share(activities, 12)}",
            f"{indent}busiest leaves: {share(leaves, top)}",
        ]
    )


if __name__ == "__main__":
    print(summarise(Path(sys.argv[1]).read_text(encoding="utf-8")))
