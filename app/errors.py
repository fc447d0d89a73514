"""One error base and RFC 9457 ``application/problem+json`` for every error the API returns."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
# Problem types are served by this service itself at /problems/{type} (app/ops/reference.py);
# a relative reference resolves against the URL the problem came from.
PROBLEM_BASE = "/problems/"

log = logging.getLogger("oneexam.errors")

MAX_LISTED_ERRORS = 100
"""A problem document lists at most this many ``errors``; ``error_count`` gives the total."""


class ProblemItem(BaseModel):
    pointer: str | None = Field(
        None, description="JSON pointer into the request body (RFC 6901); empty for the whole body"
    )
    parameter: str | None = Field(None, description="query or path parameter, when not the body")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details; some problems add members (``missing``, ``targets``,
    ``registration_id``), as RFC 9457 allows."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(..., examples=[PROBLEM_BASE + "validation"])
    title: str
    status: int
    detail: str | None = None
    errors: list[ProblemItem] | None = Field(
        None, description=f"at most {MAX_LISTED_ERRORS} entries; `error_count` gives the total"
    )
    error_count: int | None = Field(None, description="how many errors were found in all")


class AppError(Exception):
    """Base of every error the service answers on purpose."""

    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[ProblemItem] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = list(errors) if errors else None
        self.extra = extra or {}

    def to_problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        if self.errors:
            body.update(listed_errors(self.errors))
        body.update(self.extra)
        return body


def listed_errors(items: Sequence[ProblemItem]) -> dict[str, Any]:
    """``errors`` (the first :data:`MAX_LISTED_ERRORS`) and ``error_count`` (all of them)."""
    return {
        "errors": [e.model_dump(exclude_none=True) for e in items[:MAX_LISTED_ERRORS]],
        "error_count": len(items),
    }


class Unauthorized(AppError):
    status, title, slug = 401, "Unauthorized", "unauthorized"


class Forbidden(AppError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(AppError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(AppError):
    status, title, slug = 409, "Conflict", "conflict"


class PayloadTooLarge(AppError):
    status, title, slug = 413, "Payload too large", "payload-too-large"


class Unprocessable(AppError):
    status, title, slug = 422, "Unprocessable content", "validation"


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


def json_pointer(parts: Sequence[Any]) -> str:
    """RFC 6901 pointer from a sequence of keys and indexes."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def validation_items(
    errors: Sequence[Any], *, body_prefix: Sequence[Any] = ()
) -> list[ProblemItem]:
    """Pydantic/FastAPI error dicts turned into problem items with JSON pointers."""
    items = []
    for err in errors:
        loc = list(err.get("loc", ()))
        message = str(err.get("msg", "invalid"))
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            reason = ctx.get("error", "")
            items.append(
                ProblemItem(
                    pointer="", message=f"the body is not valid JSON: {reason}".rstrip(": ")
                )
            )
        elif loc and loc[0] == "body":
            items.append(
                ProblemItem(pointer=json_pointer([*body_prefix, *loc[1:]]), message=message)
            )
        elif loc and loc[0] in ("query", "path", "header", "cookie"):
            items.append(ProblemItem(parameter=str(loc[-1]), message=message))
        else:
            items.append(ProblemItem(pointer=json_pointer([*body_prefix, *loc]), message=message))
    return items


_STATUS_TITLES = {
    400: ("Bad request", "bad-request"),
    401: ("Unauthorized", "unauthorized"),
    403: ("Forbidden", "forbidden"),
    404: ("Not found", "not-found"),
    405: ("Method not allowed", "method-not-allowed"),
    409: ("Conflict", "conflict"),
    413: ("Payload too large", "payload-too-large"),
    415: ("Unsupported media type", "unsupported-media-type"),
    422: ("Unprocessable content", "validation"),
    429: ("Too many requests", "too-many-requests"),
    503: ("Service unavailable", "unavailable"),
}

DATABASE_RETRY_AFTER = 5
"""Seconds a client is told to wait when the database cannot be reached."""
UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)


def http_problem(status: int, detail: str | None = None) -> dict[str, Any]:
    title, slug = _STATUS_TITLES.get(status, ("Error", "error"))
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    return body


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_request: Request, exc: AppError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem_response(exc.to_problem(), headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        items = validation_items(errors[:MAX_LISTED_ERRORS])
        body = http_problem(422, "The request does not match the documented schema.")
        body.update(listed_errors(items))
        body["error_count"] = len(errors)
        return problem_response(body)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # The framework's only 400 is a body it could not parse (e.g. not UTF-8): for the
            # client that is the same as any malformed body, a 422 pointing at the whole body.
            body = http_problem(422, "The request body could not be read as JSON.")
            body["errors"] = [{"pointer": "", "message": "the body is not valid UTF-8 JSON"}]
            return problem_response(body)
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(
            http_problem(exc.status_code, detail), getattr(exc, "headers", None)
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_request: Request, exc: IntegrityError) -> JSONResponse:
        # A unique constraint caught a concurrent writer that the service's own checks could not
        # see yet. Nothing was written (the transaction rolled back); retrying gives the answer.
        log.warning("integrity conflict", extra={"constraint": _constraint_name(exc)})
        return problem_response(
            http_problem(
                409, "A concurrent request changed the same data; nothing was written. Retry."
            )
        )

    _install_unavailable(app)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "unhandled error",
            exc_info=exc,
            extra={"path": request.url.path, "request_id": request.scope.get("request_id")},
        )
        body = {
            "type": PROBLEM_BASE + "internal",
            "title": "Internal server error",
            "status": 500,
            "detail": "The server could not complete the request. It has been logged.",
        }
        return problem_response(body)


def _install_unavailable(app: FastAPI) -> None:
    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(DisconnectionError)
    @app.exception_handler(PoolTimeout)
    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The database went away (connection lost, server down, pool exhausted, lock timeout):
        # the transaction rolled back, nothing was written; the request can simply be retried.
        log.warning(
            "database unavailable",
            extra={"error": type(exc).__name__, "request_id": request.scope.get("request_id")},
        )
        body = http_problem(503, "The database cannot be reached just now; nothing was written.")
        return problem_response(body, {"Retry-After": str(DATABASE_RETRY_AFTER)})


def _constraint_name(exc: IntegrityError) -> str | None:
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each listed status documented as problem+json."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        title = _STATUS_TITLES.get(status, ("Error", ""))[0]
        out[status] = {"model": Problem, "description": title}
    return out


def document_problems_as_problem_json(schema: dict[str, Any]) -> dict[str, Any]:
    """Complete the error side of every operation in the OpenAPI document.

    Each operation gets the errors the service can give it whatever the route: 401 and 403
    when it needs a key, 404 when its path names a resource, 413 and 422 when it takes a body,
    422 when it takes parameters. Every 4xx/5xx body is declared ``application/problem+json``.
    """
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for path, path_item in schema.get("paths", {}).items():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            implied: list[int] = []
            if operation.get("security"):
                implied += [401, 403]
            if "{" in path:
                implied.append(404)
            if operation.get("requestBody"):
                implied += [413, 422]
            if operation.get("parameters"):
                implied.append(422)
            for status in implied:
                responses.setdefault(str(status), {"description": _STATUS_TITLES[status][0]})
            if "422" in responses:  # FastAPI's own HTTPValidationError is never what is sent
                responses["422"] = {
                    "description": _STATUS_TITLES[422][0],
                    "content": {PROBLEM_JSON: problem},
                }
            for status in implied:
                responses[str(status)].setdefault("content", {PROBLEM_JSON: problem})
            for status, response in responses.items():
                content = response.get("content")
                if status[:1] in ("4", "5") and content and "application/json" in content:
                    content[PROBLEM_JSON] = content.pop("application/json")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema
