"""The API reference, served by the app itself with no CDN: Swagger UI at ``/docs``, ReDoc at
``/redoc`` (assets from the packaged ``fastapi-offline`` copy), a page per problem type at
``/problems/{type}``, and ``/`` leading to the console.
"""

from __future__ import annotations

import html
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from app.errors import _STATUS_TITLES, PROBLEM_BASE, AppError, NotFound
from app.i18n import _

ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS_URL = "/reference-assets"

TAGS = [
    ("operations", "Liveness, readiness (database reachable and migrated) and Prometheus metrics."),
    (
        "api keys",
        "Admin: bearer keys for machines, each with a role and a subject (centre or "
        "department code); shown once, stored hashed, revocable at once.",
    ),
    (
        "departments",
        "Admin: the issuing departments, their webhook URL, whether it is active, "
        "and signing-secret rotation (old and new sign together for 24 h).",
    ),
    ("centres", "Admin: exam centres and their time zone."),
    (
        "catalogue",
        "Admin: the immutable, versioned catalogue of sections, certificates, "
        "recognitions and equivalences.",
    ),
    (
        "sessions and registrations",
        "Centres: schedule a combined session, register candidates "
        "(the service plans what each sits and which sections are exempt), plans without storing.",
    ),
    (
        "results and outcomes",
        "Centres: record results once, amend with a reason, mark absences, "
        "finalise per certificate, read outcomes (JSON, CSV or xlsx).",
    ),
    (
        "issuance",
        "Departments: the issuance requests (also a pull interface), decisions, "
        "revocations; centres and admins: redelivery.",
    ),
    ("delivery", "Admins: webhook delivery, redelivery and recovery after an outage."),
    (
        "candidates",
        "A person's certificates issued through the service (looked up by ID number "
        "in a POST body, audited, rate-limited), and their revocation by the issuing "
        "department, which re-plans the registrations that rested on them.",
    ),
    ("audit", "Admin: the hash-chained audit log."),
]


def operation_id(route: APIRoute) -> str:
    """The endpoint function's name (``list_outcomes``), what a generated client calls."""
    return route.name


def problem_types() -> dict[str, tuple[int, str, str]]:
    """Every problem type the service answers: slug -> (status, title, explanation)."""
    found: dict[str, tuple[int, str, str]] = {
        slug: (status, title, f"The HTTP status {status} ({title}).")
        for status, (title, slug) in _STATUS_TITLES.items()
    }
    found["internal"] = (500, "Internal server error", "The server failed; it has been logged.")
    pending: list[type[AppError]] = [AppError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        doc = " ".join((cls.__doc__ or "").split()) or f"{cls.title}."
        found[cls.slug] = (cls.status, cls.title, doc)
    return found


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}"
        "</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;"
        "padding:0 1rem}code{background:#f3f3f3;padding:0 .2em}</style></head><body>"
        f"{body}<p><a href='/problems'>All problem types</a> · <a href='/docs'>API reference</a>"
        "</p></body></html>"
    )


def install_reference(app: FastAPI) -> None:
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="reference-assets")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        """People arrive at the console (it is part of every app; the API reference is /docs)."""
        return RedirectResponse("/console", status_code=307)

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="oneexam — API reference",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title="oneexam — API reference",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )

    @app.get("/problems", include_in_schema=False)
    def problems() -> HTMLResponse:
        items = "".join(
            f"<li><a href='{PROBLEM_BASE}{slug}'><code>{slug}</code></a> — {status} {html.escape(title)}</li>"
            for slug, (status, title, _) in sorted(problem_types().items())
        )
        return _page("oneexam problem types", f"<h1>Problem types</h1><ul>{items}</ul>")

    @app.get("/problems/{slug}", include_in_schema=False)
    def problem(slug: str) -> HTMLResponse:
        known = problem_types().get(slug)
        if known is None:
            raise NotFound(_("No problem type %(slug)s.", slug=slug))
        status, title, text = known
        return _page(
            f"{title} — oneexam",
            f"<h1>{html.escape(title)}</h1><p>HTTP status <b>{status}</b>; "
            f"<code>type</code> <code>{html.escape(PROBLEM_BASE + slug)}</code>.</p>"
            f"<p>{html.escape(text)}</p><p>Every error is an RFC 9457 "
            "<code>application/problem+json</code> document: <code>type</code>, "
            "<code>title</code>, <code>status</code>, <code>detail</code>, and "
            "<code>errors</code> (<code>pointer</code> into the request body or "
            "<code>parameter</code>, and <code>message</code>) when the request was invalid.</p>",
        )
