"""Console test helpers: people, signing in through the form, CSRF tokens from pages."""

from __future__ import annotations

import re
from typing import Any

from app.audit import service as audit
from app.config import Settings
from app.db import Database
from app.models import load_all_models
from app.users import service as users

PASSWORD = "correct horse battery"


def make_user(
    settings: Settings,
    username: str,
    role: str,
    subject: str | None,
    password: str = PASSWORD,
) -> None:
    load_all_models()
    database = Database(settings.database_url, pool_size=1)
    audit.bind_settings(database, settings)
    try:
        with database.write() as db:
            users.create(
                db, username=username, role=role, subject=subject, password=password, actor="test"
            )
    finally:
        database.dispose()


def disable_user(settings: Settings, username: str) -> None:
    database = Database(settings.database_url, pool_size=1)
    audit.bind_settings(database, settings)
    try:
        with database.write() as db:
            users.disable(db, username=username, actor="test")
    finally:
        database.dispose()


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(client: Any, username: str, password: str = PASSWORD) -> Any:
    page = client.get("/console/sign-in")
    assert page.status_code == 200
    return client.post(
        "/console/sign-in",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
