"""One error base and RFC 9457 ``application/problem+json`` for every error the API returns."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field, SkipValidation
from sqlalchemy.exc import DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.i18n import CONTENT_LANGUAGE, _, translate
from app.i18n.middleware import language_of
from app.i18n.validation import pydantic_message

PROBLEM_JSON = "application/problem+json"
# Problem types are served by this service itself at /problems/{type} (app/ops/reference.py);
# a relative reference resolves against the URL the problem came from.
PROBLEM_BASE = "/problems/"

log = logging.getLogger("oneexam.errors")

SCHEMA_MISMATCH = _("The request does not match the documented schema.")
"""The ``detail`` of a 422 from request validation, as opposed to a rule of the service."""

MAX_LISTED_ERRORS = 100
"""A problem document lists at most this many ``errors``; ``error_count`` gives the total."""


class ProblemItem(BaseModel):
    pointer: str | None = Field(
        None, description="JSON pointer into the request body (RFC 6901); empty for the whole body"
    )
    parameter: str | None = Field(None, description="query or path parameter, when not the body")
    message: SkipValidation[str] = Field(
        ..., description="in the language `Accept-Language` asks for (Chinese or English)"
    )


class Problem(BaseModel):
    """RFC 9457 problem details; some problems add members (``missing``, ``targets``,
    ``registration_id``, ``certificates``), as RFC 9457 allows."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(..., examples=[PROBLEM_BASE + "validation"])
    title: str = Field(..., description="Chinese when `Accept-Language` prefers zh, else English")
    status: int
    detail: str | None = Field(None, description="in the same language as `title`")
    errors: list[ProblemItem] | None = Field(
        None, description=f"at most {MAX_LISTED_ERRORS} entries; `error_count` gives the total"
    )
    error_count: int | None = Field(None, description="how many errors were found in all")


class AppError(Exception):
    """Base of every error the service answers on purpose."""

    status = 400
    title: str = _("Bad request")
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

    def to_problem(self, language: str | None = None) -> dict[str, Any]:
        """The problem document, its texts in ``language`` (the request's when not given)."""
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": translate(self.title, language),
            "status": self.status,
        }
        if self.detail:
            body["detail"] = translate(self.detail, language)
        if self.errors:
            body.update(listed_errors(self.errors, language))
        body.update(self.extra)
        return body


def listed_errors(items: Sequence[ProblemItem], language: str | None = None) -> dict[str, Any]:
    """``errors`` (the first :data:`MAX_LISTED_ERRORS`) and ``error_count`` (all of them)."""
    listed = []
    for item in items[:MAX_LISTED_ERRORS]:
        entry = item.model_dump(exclude_none=True)
        entry["message"] = translate(item.message, language)
        listed.append(entry)
    return {"errors": listed, "error_count": len(items)}


class Unauthorized(AppError):
    status, title, slug = 401, _("Unauthorized"), "unauthorized"


class Forbidden(AppError):
    status, title, slug = 403, _("Forbidden"), "forbidden"


class NotFound(AppError):
    status, title, slug = 404, _("Not found"), "not-found"


class Conflict(AppError):
    status, title, slug = 409, _("Conflict"), "conflict"


class PayloadTooLarge(AppError):
    status, title, slug = 413, _("Payload too large"), "payload-too-large"


class Unprocessable(AppError):
    status, title, slug = 422, _("Unprocessable content"), "validation"


def problem_response(
    body: dict[str, Any], headers: dict[str, str] | None = None, *, language: str | None = None
) -> JSONResponse:
    """The problem+json response; ``Content-Language`` says the language of its texts."""
    if language is not None:
        headers = {**(headers or {}), "Content-Language": CONTENT_LANGUAGE[language]}
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


def json_pointer(parts: Sequence[Any]) -> str:
    """RFC 6901 pointer from a sequence of keys and indexes."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def validation_items(
    errors: Sequence[Any], *, body_prefix: Sequence[Any] = ()
) -> list[ProblemItem]:
    """Pydantic/FastAPI error dicts turned into problem items with JSON pointers (the messages
    are translated where they are shown)."""
    items = []
    for err in errors:
        loc = list(err.get("loc", ()))
        message = pydantic_message(err)
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            reason = str(ctx.get("error", ""))
            text = (
                _("the body is not valid JSON: %(reason)s", reason=reason)
                if reason
                else _("the body is not valid JSON")
            )
            items.append(ProblemItem(pointer="", message=text))
        elif loc and loc[0] == "body":
            items.append(
                ProblemItem(pointer=json_pointer([*body_prefix, *loc[1:]]), message=message)
            )
        elif loc and loc[0] in ("query", "path", "header", "cookie"):
            items.append(ProblemItem(parameter=str(loc[-1]), message=message))
        else:
            items.append(ProblemItem(pointer=json_pointer([*body_prefix, *loc]), message=message))
    return items


_STATUS_TITLES: dict[int, tuple[str, str]] = {
    400: (_("Bad request"), "bad-request"),
    401: (_("Unauthorized"), "unauthorized"),
    403: (_("Forbidden"), "forbidden"),
    404: (_("Not found"), "not-found"),
    405: (_("Method not allowed"), "method-not-allowed"),
    409: (_("Conflict"), "conflict"),
    413: (_("Payload too large"), "payload-too-large"),
    415: (_("Unsupported media type"), "unsupported-media-type"),
    422: (_("Unprocessable content"), "validation"),
    429: (_("Too many requests"), "too-many-requests"),
    503: (_("Service unavailable"), "unavailable"),
}

FRAMEWORK_DETAILS = (_("Not Found"), _("Method Not Allowed"), _("Not Acceptable"))
"""Details the framework writes itself (the HTTP reason phrase), translated as plain strings."""

DATABASE_RETRY_AFTER = 5
"""Seconds a client is told to wait when the database cannot be reached."""
UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)


def http_problem(
    status: int, detail: str | None = None, language: str | None = None
) -> dict[str, Any]:
    """A problem for an HTTP status, its texts in ``language`` (the request's when not given)."""
    title, slug = _STATUS_TITLES.get(status, (_("Error"), "error"))
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": translate(title, language),
        "status": status,
    }
    if detail:
        body["detail"] = translate(detail, language)
    return body


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        language = language_of(request.scope)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem_response(exc.to_problem(language), headers, language=language)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        language = language_of(request.scope)
        errors = exc.errors()
        items = validation_items(errors[:MAX_LISTED_ERRORS])
        body = http_problem(422, SCHEMA_MISMATCH, language)
        body.update(listed_errors(items, language))
        body["error_count"] = len(errors)
        return problem_response(body, language=language)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        language = language_of(request.scope)
        if exc.status_code == 400:
            # The framework's only 400 is a body it could not parse (e.g. not UTF-8): for the
            # client that is the same as any malformed body, a 422 pointing at the whole body.
            body = http_problem(422, _("The request body could not be read as JSON."), language)
            message = translate(_("the body is not valid UTF-8 JSON"), language)
            body["errors"] = [{"pointer": "", "message": message}]
            return problem_response(body, language=language)
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        return problem_response(
            http_problem(exc.status_code, detail, language), headers, language=language
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # A unique constraint caught a concurrent writer that the service's own checks could not
        # see yet. Nothing was written (the transaction rolled back); retrying gives the answer.
        log.warning("integrity conflict", extra={"constraint": _constraint_name(exc)})
        language = language_of(request.scope)
        detail = _("A concurrent request changed the same data; nothing was written. Retry.")
        return problem_response(http_problem(409, detail, language), language=language)

    _install_unavailable(app)
    _install_unexpected(app)


def _install_unexpected(app: FastAPI) -> None:
    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "unhandled error",
            exc_info=exc,
            extra={"path": request.url.path, "request_id": request.scope.get("request_id")},
        )
        language = language_of(request.scope)
        detail = _("The server could not complete the request. It has been logged.")
        body = {
            "type": PROBLEM_BASE + "internal",
            "title": translate(_("Internal server error"), language),
            "status": 500,
            "detail": translate(detail, language),
        }
        return problem_response(body, language=language)


def allowed_methods(request: Request) -> str:
    """Every method some route of this path takes (FastAPI routes one method per endpoint, and
    Starlette's 405 names only the methods of the first one)."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        regex = getattr(route, "path_regex", None)
        if regex is not None and route.methods and regex.match(request.url.path):
            methods |= route.methods
    return ", ".join(sorted(methods))


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
        language = language_of(request.scope)
        detail = _("The database cannot be reached just now; nothing was written.")
        body = http_problem(503, detail, language)
        return problem_response(body, {"Retry-After": str(DATABASE_RETRY_AFTER)}, language=language)


def _constraint_name(exc: IntegrityError) -> str | None:
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each listed status documented as problem+json."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        title = _STATUS_TITLES.get(status, (_("Error"), ""))[0]
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
