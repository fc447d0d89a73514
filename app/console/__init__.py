"""The console at ``/console`` for people: Jinja2 pages, htmx, plain CSS (docs/api.md §12).

``install(app)`` adds its routes and its static files (vendored, nothing from a CDN).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.console.web import HERE


def install(app: FastAPI) -> None:
    from app.console import admin, auth_pages, centre, department, examining, pages  # noqa: F401

    app.include_router(auth_pages.public)
    app.include_router(auth_pages.signed_in)
    app.include_router(pages.router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
