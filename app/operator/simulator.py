"""Simulated department systems, for the demo and for integrators to read.

Each department gets its own HTTP server on 127.0.0.1. It does what a real department system
should: verify every webhook with the department's signing secret (``standardwebhooks``),
refuse a bad signature with 401, de-duplicate on ``webhook-id``, answer quickly, and post its
decision back to oneexam afterwards: ``issued`` with a certificate number, or ``rejected`` for
a configurable share of requests.

Configuration (JSON)::

    {"api": "http://127.0.0.1:8000", "reject_share": 0.1,
     "departments": [{"code": "mem", "secret": "whsec_…", "api_key": "oek_…", "port": 9101}]}
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import signal
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from app import clock

log = logging.getLogger("oneexam.simulator")


@dataclass
class SimulatedDepartment:
    code: str
    secret: str
    api_key: str
    port: int
    api: str
    reject_share: float
    seen: set[str] = field(default_factory=set)
    stats: dict[str, int] = field(
        default_factory=lambda: {
            "received": 0,
            "duplicates": 0,
            "bad_signatures": 0,
            "issued": 0,
            "rejected": 0,
            "cancelled": 0,
        }
    )

    def __post_init__(self) -> None:
        self.webhook = Webhook(self.secret)
        self.tasks: set[asyncio.Task[None]] = set()

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        body = await read_body(receive)
        if scope["method"] == "GET":
            await _reply(send, 200, {"department": self.code, **self.stats})
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            event = self.webhook.verify(body, headers)
        except WebhookVerificationError as exc:
            self.stats["bad_signatures"] += 1
            await _reply(send, 401, {"error": f"signature rejected: {exc}"})
            return
        webhook_id = headers["webhook-id"]
        if webhook_id in self.seen:  # a retry of something already handled: acknowledge only
            self.stats["duplicates"] += 1
            await _reply(send, 200, {"duplicate": True})
            return
        self.seen.add(webhook_id)
        self.stats["received"] += 1
        if event["type"] == "issuance.requested":
            task = asyncio.create_task(self._decide(event["data"]))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif event["type"] == "issuance.cancelled":
            self.stats["cancelled"] += 1
        await _reply(send, 202, {"accepted": True})

    def _rejects(self, request_id: str) -> bool:
        """A fixed share of requests is rejected, chosen by the request id (repeatable)."""
        digest = int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:4], "big")
        return digest / 2**32 < self.reject_share

    async def _decide(self, data: dict[str, Any]) -> None:
        request_id = data["request_id"]
        if self._rejects(request_id):
            decision: dict[str, Any] = {"decision": "rejected", "reason": "材料审核未通过（模拟）"}
        else:
            number = f"{self.code.upper()}-{clock.today():%Y%m%d}-{hashlib.sha256(request_id.encode()).hexdigest()[:8].upper()}"
            decision = {
                "decision": "issued",
                "certificate_number": number,
                "issued_on": clock.today().isoformat(),
            }
        url = f"{self.api}/v1/issuance-requests/{request_id}/decision"
        async with httpx.AsyncClient(timeout=30) as client:
            for attempt in range(10):
                try:
                    response = await client.post(
                        url, json=decision, headers={"Authorization": f"Bearer {self.api_key}"}
                    )
                except httpx.HTTPError:
                    await asyncio.sleep(0.5 * (attempt + 1))
                    continue
                if response.status_code < 500:
                    if response.status_code == 200:
                        self.stats[decision["decision"]] += 1
                    else:
                        log.warning(
                            "decision refused",
                            extra={"status": response.status_code, "department": self.code},
                        )
                    return
                await asyncio.sleep(0.5 * (attempt + 1))


async def lifespan(receive: Any, send: Any) -> None:
    """Answer an ASGI server's lifespan messages (there is nothing to start or stop)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


async def _reply(send: Any, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def load_departments(config: dict[str, Any]) -> list[SimulatedDepartment]:
    return [
        SimulatedDepartment(
            code=d["code"],
            secret=d["secret"],
            api_key=d["api_key"],
            port=int(d["port"]),
            api=config["api"].rstrip("/"),
            reject_share=float(config.get("reject_share", 0.1)),
        )
        for d in config["departments"]
    ]


def run(departments: list[SimulatedDepartment]) -> None:
    """Serve every department until SIGINT/SIGTERM. The servers run in a side thread so that
    the main thread owns the signals and can stop all of them together."""
    servers = [
        uvicorn.Server(
            uvicorn.Config(
                d.app,
                host="127.0.0.1",
                port=d.port,
                interface="asgi3",
                log_config=None,
                access_log=False,
            )
        )
        for d in departments
    ]
    stop = threading.Event()

    def loop() -> None:
        asyncio.run(_serve_all(servers))
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=loop, name="departments", daemon=True)
    thread.start()
    stop.wait()
    for server in servers:
        server.should_exit = True
    thread.join(timeout=10)


async def _serve_all(servers: list[uvicorn.Server]) -> None:
    await asyncio.gather(*(s.serve() for s in servers))
