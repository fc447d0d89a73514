"""A department endpoint that trickles its answer cannot hold an attempt open past its deadline
(4 × ONEEXAM_DELIVERY_TIMEOUT), nor get the same webhook-id posted twice at once."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.delivery.test_delivery import DEPARTMENTS, start_env
from tests.receiver import Receiver, wait_until
from tests.support import ExamClock, adult, qualify


class Trickle:
    """Answers ``200`` with ``content-length: 100000``, then one byte a second, for ever.

    Records, per webhook-id, how many connections carrying it are open at once."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/hooks/mem"
        self.open: Counter[str] = Counter()
        self.overlaps: list[str] = []
        self.durations: list[float] = []
        self.lock = threading.Lock()
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closing:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                conn.close()
                return
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
        webhook_id = next(
            (
                line.split(":", 1)[1].strip()
                for line in head.split("\r\n")
                if line.startswith("webhook-id:")
            ),
            "",
        )
        with self.lock:
            if self.open[webhook_id]:
                self.overlaps.append(webhook_id)
            self.open[webhook_id] += 1
        started = time.monotonic()
        try:
            conn.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n"
            )
            while not self.closing:
                conn.sendall(b" ")
                readable, _, _ = select.select([conn], [], [], 1.0)
                if readable and not conn.recv(1):
                    break  # the client closed its side
        except OSError:
            pass  # the client closed the connection
        finally:
            with self.lock:
                self.open[webhook_id] -= 1
                self.durations.append(time.monotonic() - started)
            conn.close()

    def close(self) -> None:
        self.closing = True
        self.server.close()


@pytest.fixture
def trickle() -> Iterator[Trickle]:
    t = Trickle()
    yield t
    t.close()


def test_a_trickling_endpoint_is_cut_at_the_deadline_and_never_sees_one_id_twice(
    fresh_database_url: str, trickle: Trickle, exam_clock: ExamClock
) -> None:
    with Receiver() as receiver:
        urls = {d: receiver.url(d) for d in DEPARTMENTS} | {"mem": trickle.url}
        with start_env(
            fresh_database_url, receiver, urls, delivery_timeout=2.0, retry_schedule=(0, 0.2, 30)
        ) as env:
            qualify(env.client, env.world, [(adult(1), ["MEM-LV"])], clock=exam_clock)
            assert wait_until(lambda: len(env.requests()) == 1)
            request_id = env.requests()[0]["id"]

            def attempts() -> list[dict]:  # type: ignore[type-arg]
                return env.request(request_id)["attempts"]  # type: ignore[no-any-return]

            assert wait_until(lambda: len(attempts()) >= 2, timeout=40)
            first, second = attempts()[:2]
            for attempt in (first, second):
                assert attempt["error"].startswith("timeout"), attempt
                assert attempt["status_code"] is None and attempt["outcome"] == "retry"
                # the deadline is 4 × 2 s; the watchdog closes the connection at it
                assert attempt["duration_ms"] < 8_500, attempt
            assert first["webhook_id"] == second["webhook_id"]
            assert wait_until(lambda: len(trickle.durations) >= 2, timeout=5)
            assert max(trickle.durations) < 9.0  # the receiver saw the connection closed
            assert trickle.overlaps == []
            print(
                f"\ntrickle attempts ended after {[round(a['duration_ms']) for a in (first, second)]} ms"
            )
