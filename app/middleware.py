"""Pure ASGI middleware: request ids, body size cap, one log line and metrics per request."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PROBLEM_JSON, http_problem
from app.i18n import _
from app.metrics import Metrics, RequestStats, current_request

log = logging.getLogger("oneexam.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
MAX_JSON_CONTAINERS = 100_000
"""Objects and arrays (``{``/``[`` bytes, counted as the body streams in) that one JSON body may
hold. The largest valid batch needs about 54,000 (1,000 registrations with 50 held
certificates each); parsing a body of empty objects costs ~24 times its size, so this bounds
what a body can make the parser allocate before any endpoint looks at it."""


class BodyTooLarge(StarletteHTTPException):
    """Raised while the body streams in; FastAPI passes HTTP exceptions through to the handler."""

    def __init__(self, limit: int) -> None:
        self.message: str = _("The request body is larger than %(limit)s bytes.", limit=limit)
        super().__init__(413, self.message)


class TooManyJsonValues(BodyTooLarge):
    def __init__(self) -> None:
        super().__init__(0)
        self.message = self.detail = _(
            "The JSON body holds more than %(count)s objects and arrays.",
            count=MAX_JSON_CONTAINERS,
        )


def _is_json(headers: dict[bytes, bytes]) -> bool:
    media = headers.get(b"content-type", b"application/json").split(b";")[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope["request_id"] = request_id
        stats = RequestStats()
        token = current_request.set(stats)
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        declared = headers.get(b"content-length")
        try:
            if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
                raise BodyTooLarge(self.max_body_bytes)
            await self.app(scope, self._limited(receive, _is_json(headers)), send_wrapper)
        except BodyTooLarge as exc:
            if response_started:
                raise
            await self._too_large(send_wrapper, exc.message)
        finally:
            current_request.reset(token)
            self._record(scope, status, time.perf_counter() - started, request_id, stats)

    def _limited(self, receive: Receive, is_json: bool) -> Receive:
        received = containers = 0

        async def wrapped() -> Message:
            nonlocal received, containers
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
                if is_json:
                    containers += chunk.count(b"{") + chunk.count(b"[")
                    if containers > MAX_JSON_CONTAINERS:
                        raise TooManyJsonValues()
            return message

        return wrapped

    async def _too_large(self, send: Send, message: str) -> None:
        body = http_problem(413, message)
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def _record(
        self, scope: Scope, status: int, seconds: float, request_id: str, stats: RequestStats
    ) -> None:
        route: Any = scope.get("route")
        template = getattr(route, "path", None) or "<unmatched>"
        method = scope.get("method", "")
        self.metrics.requests.labels(method, template, str(status)).inc()
        self.metrics.request_seconds.labels(method, template).observe(seconds)
        self.metrics.statements.labels(method, template).observe(stats.statements)
        log.info(
            "request",
            extra={
                "method": method,
                "path": template,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "sql_statements": stats.statements,
                "principal": scope.get("principal_kind", "anonymous"),
                "request_id": request_id,
            },
        )
