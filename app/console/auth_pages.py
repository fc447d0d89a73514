"""Sign-in, sign-out, the home page and the language switch."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.console import i18n
from app.console.i18n import _
from app.console.web import (
    SESSION_COOKIE,
    SIGN_IN_CSRF_COOKIE,
    ConsoleRoute,
    Person,
    csrf_guard,
    new_sign_in_csrf,
    render,
    see_other,
)
from app.db import DatabaseDep
from app.users import service as users
from app.users.exceptions import SignInThrottled

public = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
HOME = {"centre": "/console/sessions", "department": "/console/queue", "admin": "/console/admin"}


def _safe_next(target: str | None) -> str | None:
    """Only a path inside the console (never another site) is followed after sign-in."""
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return None


@public.get("", response_class=HTMLResponse)
def console_root(request: Request) -> Response:
    return see_other("/console/home")


@public.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, next: str | None = None) -> Response:
    token = new_sign_in_csrf()
    response = render(request, "sign_in.html", csrf_token=token, next=_safe_next(next) or "")
    _set_cookie(request, response, SIGN_IN_CSRF_COOKIE, token, path="/console/sign-in")
    return response


@public.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    database: DatabaseDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    expected = request.cookies.get(SIGN_IN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        return _sign_in_again(request, _("The sign-in form expired. Please try again."), 403, next)
    with database.write() as db:
        outcome = users.sign_in(db, username=username.strip(), password=password)
    if outcome.refusal is not None:
        if isinstance(outcome.refusal, SignInThrottled):
            message = (
                _(
                    "Too many failed sign-ins: this account is locked. Try again in %(minutes)s minutes.",
                    minutes=max(1, outcome.refusal.retry_after // 60),
                )
                if outcome.refusal.slug == "account-locked"
                else _(
                    "Too many failed sign-ins. Wait %(seconds)s seconds and try again.",
                    seconds=outcome.refusal.retry_after,
                )
            )
            return _sign_in_again(request, message, 429, next)
        return _sign_in_again(request, _("The username or password is not right."), 401, next)
    assert outcome.token is not None and outcome.role is not None
    response = see_other(_safe_next(next) or HOME[outcome.role])
    _set_cookie(request, response, SESSION_COOKIE, outcome.token, path="/console")
    response.delete_cookie(SIGN_IN_CSRF_COOKIE, path="/console/sign-in")
    return response


def _sign_in_again(request: Request, message: str, status: int, next: str) -> Response:
    token = new_sign_in_csrf()
    response = render(
        request, "sign_in.html", status=status, csrf_token=token, error=message, next=next
    )
    _set_cookie(request, response, SIGN_IN_CSRF_COOKIE, token, path="/console/sign-in")
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str, *, path: str) -> None:
    response.set_cookie(
        name,
        value,
        path=path,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


signed_in = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


@signed_in.post("/sign-out")
async def sign_out(request: Request, person: Person, database: DatabaseDep) -> Response:
    await csrf_guard(request, person)
    with database.write() as db:
        users.touch(db, session_id=person.session.id, end_reason="signed-out")
    response = see_other("/console/sign-in")
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


@signed_in.get("/home", response_class=HTMLResponse)
def home(request: Request, person: Person) -> Response:
    return see_other(HOME[person.user.role])


@public.get("/language")
def switch_language(request: Request, to: str, next: str | None = None) -> Response:
    response: Response = RedirectResponse(_safe_next(next) or "/console/home", status_code=303)
    response.set_cookie(
        i18n.LANGUAGE_COOKIE,
        i18n.choose(to),
        path="/console",
        max_age=365 * 24 * 3600,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response
