"""What every console page shares: templates, the signed-in person, CSRF, error pages.

A page handler is thin: it turns a form into the service's input, calls the same service
function the API calls with the person's :class:`~app.auth.Principal`, and renders the answer.
Rules of the exam world never live here.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app import clock
from app import i18n as messages
from app.auth import Principal
from app.console import i18n
from app.console.i18n import _
from app.db import DatabaseDep, utcnow
from app.errors import AppError
from app.pagination import MAX_LIMIT, PageParams
from app.users import service as users
from app.users.service import SignedIn

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "oneexam_console"
SIGN_IN_CSRF_COOKIE = "oneexam_sign_in_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
ALL = PageParams(limit=MAX_LIMIT)
"""The largest page: a console page lists every row there is (paging on as needed)."""

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.install_gettext_callables(  # type: ignore[attr-defined]
    lambda message: i18n._(message),
    lambda singular, plural, n: i18n.ngettext(singular, plural, n),
    newstyle=True,
)
templates.filters["when"] = i18n.when
templates.filters["day"] = i18n.day
templates.filters["msg"] = i18n.problem_text
templates.globals["ROLE_LABELS"] = i18n.ROLE_LABELS


class SignInRequired(Exception):
    """No open session: pages redirect to the sign-in page."""


class ConsolePageError(Exception):
    """An error page for a person (not problem+json): status and a sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def default_zone() -> str:
    return clock.DEFAULT_TIMEZONE


def render(
    request: Request,
    template: str,
    *,
    person: SignedIn | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    page = templates.get_template(template).render(
        request=request,
        person=person,
        csrf_token=person.session.csrf_token if person else context.pop("csrf_token", ""),
        language=i18n.language(),
        path=request.url.path,
        status=status,
        query=request.url.query,
        zone=context.pop("zone", default_zone()),
        **context,
    )
    spoken = messages.CONTENT_LANGUAGE.get(i18n.language(), "zh-CN")
    return HTMLResponse(page, status_code=status, headers={"Content-Language": spoken})


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    person = request.scope.get("console_person")
    return render(request, "error.html", person=person, status=status, message=message)


def problem_message(exc: AppError) -> str:
    """The sentence a person reads for a problem."""
    return i18n.problem_text(exc.detail or exc.title)


class ConsoleRoute(APIRoute):
    """A console route: the language is set for the request, and errors become pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            i18n.set_language(request.cookies.get(i18n.LANGUAGE_COOKIE, i18n.DEFAULT_LANGUAGE))
            messages.set_language(i18n.language())  # what the services render speaks it too
            try:
                return await handler(request)
            except SignInRequired:
                if request.headers.get("hx-request"):  # htmx follows this to the sign-in page
                    return Response(status_code=200, headers={"HX-Redirect": "/console/sign-in"})
                if request.method == "GET":
                    target = request.url.path + (
                        f"?{request.url.query}" if request.url.query else ""
                    )
                    return RedirectResponse(f"/console/sign-in?next={target}", status_code=303)
                return error_page(request, 401, _("Please sign in again."))
            except ConsolePageError as exc:
                return error_page(request, exc.status, exc.message)
            except AppError as exc:
                return error_page(request, exc.status, problem_message(exc))

        return route


def _session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def current_person(request: Request, database: DatabaseDep) -> SignedIn:
    """The signed-in person behind the cookie; ended, idle or disabled sessions do not count."""
    token = _session_token(request)
    if token is None:
        raise SignInRequired
    now = utcnow()
    with database.read() as db:
        signed_in = users.find(db, token=token)
    if signed_in is None:
        raise SignInRequired
    reason = users.expiry_reason(signed_in, now)
    if reason is not None or users.needs_touch(signed_in, now):
        with database.write() as db:
            users.touch(db, session_id=signed_in.session.id, end_reason=reason)
        if reason is not None:
            raise SignInRequired
    request.scope["console_person"] = signed_in
    request.scope["principal_kind"] = signed_in.user.role
    return signed_in


Person = Annotated[SignedIn, Depends(current_person)]


async def csrf_guard(request: Request, person: Person) -> None:
    """Every POST of a signed-in page carries the session's CSRF token (form field or header)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    if not users.check_csrf(person, presented):
        raise ConsolePageError(
            403, _("This form has expired or did not come from this console. Reload the page.")
        )


def require_role(person: SignedIn, *roles: str) -> Principal:
    if person.user.role not in roles:
        raise ConsolePageError(403, _("This page is not for your role."))
    return person.principal


def new_sign_in_csrf() -> str:
    return secrets.token_urlsafe(24)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)
