"""The console's own texts (gettext domain ``console``), its language, and dates as people read them.

Texts are written in English in the templates and in Python as ``_("...")``; the Chinese is in
``locales/zh_CN/LC_MESSAGES/console.po`` (read with Babel at start-up). Chinese is the default;
the language switch sets a cookie. ``tests/console/test_messages.py`` fails for a text without
a Chinese translation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po

from app import clock
from app import i18n as messages

DOMAIN = "console"
LOCALES = Path(__file__).resolve().parent / "locales"
CHINESE, ENGLISH = "zh_CN", "en"
LANGUAGES = (CHINESE, ENGLISH)
DEFAULT_LANGUAGE = CHINESE
LANGUAGE_COOKIE = "oneexam_lang"

_language: ContextVar[str] = ContextVar("console_language", default=DEFAULT_LANGUAGE)


@lru_cache(maxsize=4)
def catalogue(language: str) -> dict[str, str]:
    """msgid -> translation for ``language`` (English is the msgid itself)."""
    path = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        po = read_po(fh, locale=language, domain=DOMAIN)
    return {str(m.id): str(m.string) for m in po if m.id and m.string and not m.fuzzy}


def language() -> str:
    return _language.get()


def choose(cookie: str | None) -> str:
    return cookie if cookie in LANGUAGES else DEFAULT_LANGUAGE


@contextmanager
def speaking(lang: str) -> Iterator[None]:
    token = _language.set(choose(lang))
    try:
        yield
    finally:
        _language.reset(token)


def set_language(lang: str) -> None:
    _language.set(choose(lang))


def _(message: str, **values: object) -> str:
    """``message`` in the current language, with ``%(name)s`` placeholders filled."""
    text = catalogue(language()).get(message, message) if language() != ENGLISH else message
    return text % values if values else text


def ngettext(singular: str, plural: str, n: int, **values: object) -> str:
    return _(singular if n == 1 else plural, num=n, **values)


def when(instant: datetime | str | None, zone_name: str) -> str:
    """An instant in ``zone_name`` as people write it: 2026年12月15日 09:00 / 15 Dec 2026, 09:00."""
    if instant is None or instant == "":
        return ""
    if isinstance(instant, str):
        instant = datetime.fromisoformat(instant)
    local = instant.astimezone(clock.zone(zone_name))
    if language() == CHINESE:
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    return format_datetime(local, "d MMM y, HH:mm", locale="en")


def day(value: date | str | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):  # an RFC 3339 instant is read on its own offset's date
        value = datetime.fromisoformat(value).date() if "T" in value else date.fromisoformat(value)
    if language() == CHINESE:
        return f"{value.year}年{value.month}月{value.day}日"
    return format_date(value, "d MMM y", locale="en")


def N_(message: str) -> str:
    """Mark a text for translation where it is only named (translated where it is shown)."""
    return message


ROLE_LABELS = {
    "centre": N_("Centre staff"),
    "department": N_("Department officer"),
    "admin": N_("Administrator"),
}

# Words the templates translate from data (a status): listed so that they are extracted.
LABELS = (
    N_("Active"),
    N_("Disabled"),
    N_("Scheduled"),
    N_("Finalised"),
    N_("Partially finalised"),
    N_("Cancelled"),
    N_("Registered"),
    N_("Absent"),
    N_("Withdrawn"),
    N_("Pending"),
    N_("Delivered"),
    N_("Issued"),
    N_("Rejected"),
    N_("Failed"),
    N_("Qualified"),
    N_("Not qualified"),
    N_("Not eligible"),
)


def problem_text(text: object) -> str:
    """A service's message (a problem's title or detail, an item's message, a reason) in the
    console's language, from the API's own message catalogue (``app.i18n``, domain
    ``messages``): the console and the API say the same thing in the same words."""
    return messages.translate(text, language())
