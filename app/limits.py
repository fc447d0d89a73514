"""Batch caps, checked before any row of a batch is validated.

A batch endpoint declares ``dependencies=[batch_cap("results", MAX_RESULT_BATCH, "result
rows")]``. FastAPI solves dependencies before it validates the body, so a batch over its cap is
refused with 413 after one ``len()`` of the parsed JSON, instead of after a million row
validations and a problem document listing each of them.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.errors import PayloadTooLarge, ProblemItem, Unprocessable
from app.i18n import _

_declared: dict[int, frozenset[str]] = {}


def _is_json(request: Request) -> bool:
    """The bodies FastAPI parses as JSON: no content type, ``application/json`` or ``+json``."""
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def _parsed_body(request: Request) -> Any:
    """The JSON body FastAPI has already parsed (Starlette caches it on the request)."""
    if not _is_json(request):
        return None
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return None  # the body's own validation answers with a 422


def batch_cap(member: str, cap: int, rows: str) -> Any:
    """A route dependency: 413 when the body's ``member`` list has more than ``cap`` rows."""

    async def check(request: Request) -> None:
        body = await _parsed_body(request)
        batch = body.get(member) if isinstance(body, dict) else None
        if isinstance(batch, list) and len(batch) > cap:
            raise PayloadTooLarge(
                _(
                    "At most %(cap)s %(rows)s per request; this one has %(count)s. Send them in several requests.",
                    cap=cap,
                    rows=rows,
                    count=len(batch),
                )
            )

    return Depends(check)


def _query_names(route: APIRoute) -> frozenset[str]:
    names = _declared.get(id(route))
    if names is None:
        found: set[str] = set()
        pending: list[Dependant] = [route.dependant]
        while pending:
            dependant = pending.pop()
            found.update(field.alias for field in dependant.query_params)
            pending.extend(dependant.dependencies)
        names = _declared[id(route)] = frozenset(found)
    return names


async def known_query_parameters(request: Request) -> None:
    """An app dependency: a query parameter that a ``/v1`` endpoint does not declare is a 422.
    A filter the endpoint would not apply must not look as if it had been applied."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.url.path.startswith("/v1/"):
        return
    unknown = sorted(set(request.query_params) - _query_names(route))
    if unknown:
        raise Unprocessable(
            _("The request has query parameters this endpoint does not take."),
            errors=[
                ProblemItem(parameter=name, message=_("unknown parameter")) for name in unknown
            ],
        )
