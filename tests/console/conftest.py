"""Browser fixtures for the console tests (see tests/console/browser.py)."""

from tests.console.browser import browser, console  # noqa: F401
