"""Playwright for Python driving the distribution's Chromium against a live server.

Browsers cannot be downloaded here: the tests use ``/usr/bin/chromium`` (``apt-get install -y
chromium fonts-noto-cjk``) and are skipped, saying so, when it is missing. One browser per test
module; each test gets its own contexts (one per person) and records every JavaScript error.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from tests.conftest import LiveServer, make_settings
from tests.console.support import PASSWORD, make_user
from tests.receiver import Receiver
from tests.support import World, build_world

CHROMIUM = os.environ.get("ONEEXAM_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
"""Where ``ONEEXAM_TEST_SCREENSHOTS=1`` has the browser test write the README's screenshots;
without it they go to the test's temporary folder, so a test run leaves the tree untouched."""
VIEWPORT = {"width": 1366, "height": 768}


def have_browser() -> bool:
    return Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is not None


needs_browser = pytest.mark.skipif(
    not have_browser(),
    reason=f"browser tests SKIPPED: no Chromium at {CHROMIUM} (apt-get install -y chromium fonts-noto-cjk)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@dataclass
class Console:
    """A live oneexam with departments on a real receiver, and a way to open people's browsers."""

    url: str
    world: World
    settings: Settings
    receiver: Receiver
    browser: Any
    errors: list[str] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)

    def person(self, username: str, role: str, subject: str | None) -> Any:
        make_user(self.settings, username, role, subject)
        return self.page()

    def page(self) -> Any:
        context = self.browser.new_context(viewport=VIEWPORT, locale="zh-CN", base_url=self.url)
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))
        page.on(
            "console",
            lambda msg: (
                self.errors.append(f"{page.url}: console {msg.text}")
                if msg.type == "error" and not _expected_status(msg.text)
                else None
            ),
        )
        return page

    def sign_in(self, page: Any, username: str, password: str = PASSWORD) -> None:
        page.goto("/console/sign-in")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit].primary")

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


def _expected_status(text: str) -> bool:
    """Chromium logs every 4xx answer as a console error; the console answers refused forms
    with 401/403/404/409/422/429 on purpose (the page says why), so those are not script errors."""
    return "Failed to load resource: the server responded with a status of 4" in text


@pytest.fixture
def console(fresh_database_url: str, browser: Any) -> Iterator[Console]:
    with Receiver() as receiver:
        settings = make_settings(fresh_database_url, worker="embedded")
        with (
            LiveServer(create_app(settings)) as live,
            httpx.Client(base_url=live.url, timeout=30) as http,
        ):
            world = build_world(
                http, {d: receiver.url(d) for d in ("mem", "mohurd", "samr", "mohrss")}
            )
            env = Console(live.url, world, settings, receiver, browser)
            yield env
            for context in env.contexts:
                context.close()


def screenshot(page: Any, name: str) -> None:
    folder = SCREENSHOTS if os.environ.get("ONEEXAM_TEST_SCREENSHOTS") == "1" else _scratch()
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))


def _scratch() -> Path:
    return Path(tempfile.gettempdir()) / "oneexam-console-screenshots"
