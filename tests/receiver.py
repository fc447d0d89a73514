"""A real HTTP receiver on 127.0.0.1 standing in for department endpoints.

Each department gets a path (``/hooks/<code>``) and a behaviour deciding, call by call, the
status, headers and delay of the answer. Every call is recorded with its headers and exact body
bytes, and the receiver notices if the same ``webhook-id`` is ever in flight twice at once.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import uvicorn

from app.operator.simulator import lifespan


@dataclass(frozen=True)
class Call:
    path: str
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    arrived: float
    index: int  # 0-based count of calls to this path before this one


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    body: bytes = b'{"ok":true}'


Behaviour = Callable[[Call], Answer]


def ok(call: Call) -> Answer:
    return Answer(200)


def fail_first(n: int, status: int = 500) -> Behaviour:
    """The first n calls for each webhook-id fail with ``status``; later ones succeed."""
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def behaviour(call: Call) -> Answer:
        with lock:
            seen[call.webhook_id] += 1
            k = seen[call.webhook_id]
        return Answer(status) if k <= n else Answer(200)

    return behaviour


def always(status: int, headers: dict[str, str] | None = None, delay: float = 0.0) -> Behaviour:
    return lambda call: Answer(status, headers or {}, delay)


def slow(seconds: float) -> Behaviour:
    return lambda call: Answer(200, delay=seconds)


class Receiver:
    def __init__(self) -> None:
        self.behaviours: dict[str, Behaviour] = {}
        self.calls: list[Call] = []
        self.completed: dict[str, list[float]] = defaultdict(list)
        self.overlaps: list[str] = []
        self._inflight: Counter[str] = Counter()
        self._per_path: Counter[str] = Counter()
        self._lock = threading.Lock()
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=0,
            interface="asgi3",
            log_config=None,
            access_log=False,
            backlog=4096,
            timeout_keep_alive=30,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def url(self, department: str) -> str:
        return f"{self.base}/hooks/{department}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        self.base = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    async def app(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        body, whole = await _read_whole_body(receive)
        if not whole:
            return  # the sender died mid-request (kill -9): no webhook arrived, nothing to answer
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope["path"]
        webhook_id = headers.get("webhook-id", "")
        with self._lock:
            call = Call(path, webhook_id, headers, body, time.monotonic(), self._per_path[path])
            self._per_path[path] += 1
            self.calls.append(call)
            if self._inflight[webhook_id] > 0:
                self.overlaps.append(webhook_id)
            self._inflight[webhook_id] += 1
        department = path.rsplit("/", 1)[-1]
        answer = self.behaviours.get(department, ok)(call)
        try:
            if answer.delay:
                await asyncio.sleep(answer.delay)
            await send(
                {
                    "type": "http.response.start",
                    "status": answer.status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        *((k.encode(), v.encode()) for k, v in answer.headers.items()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": answer.body})
        finally:
            with self._lock:
                self._inflight[webhook_id] -= 1
                self.completed[webhook_id].append(time.monotonic())

    # -- queries ------------------------------------------------------------------------------

    def calls_to(self, department: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.path == f"/hooks/{department}"]

    def ids(self, department: str | None = None) -> Counter[str]:
        with self._lock:
            return Counter(
                c.webhook_id
                for c in self.calls
                if department is None or c.path == f"/hooks/{department}"
            )


async def _read_whole_body(receive) -> tuple[bytes, bool]:  # type: ignore[no-untyped-def]
    """The request body, and whether all of it arrived (False when the client went away
    before sending the rest)."""
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return body, False
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body, True


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks/refused"


def wait_until(
    predicate: Callable[[], bool], timeout: float = 30.0, interval: float = 0.05
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
