"""The API's languages: every text a client reads, in English or in Chinese.

Texts are written in English as ``_("No session %(session_id)s.", session_id=...)``: a
:class:`Message` reads as its English text wherever a string is expected (logs, tests,
comparisons), and keeps its ``msgid`` and values, so that where it is shown (a problem
document, an eligibility reason, a console page) :func:`translate` renders it in the reader's
language from the gettext catalogue ``locales/zh_CN/LC_MESSAGES/messages.po`` (domain
``messages``, read with Babel at start-up; no compiled ``.mo`` files). The reader's language
comes from ``Accept-Language`` (:func:`negotiate`), set per request by
:class:`app.i18n.middleware.LanguageMiddleware`. Machine-readable parts (problem ``type``,
``status``, pointers, reason codes) are never translated.

``tests/test_i18n.py`` extracts every message with Babel and fails for one without its Chinese.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.messages.pofile import read_po

DOMAIN = "messages"
LOCALES = Path(__file__).resolve().parent / "locales"
CHINESE, ENGLISH = "zh_CN", "en"
LANGUAGES = (CHINESE, ENGLISH)
DEFAULT_LANGUAGE = ENGLISH
CONTENT_LANGUAGE = {CHINESE: "zh-CN", ENGLISH: "en"}
"""The ``Content-Language`` a response in each language says."""

_language: ContextVar[str] = ContextVar("api_language", default=DEFAULT_LANGUAGE)


class Message(str):
    """A translatable text: its value is the English, with ``%(name)s`` placeholders filled.

    Values that are themselves messages (a status word, an action) are translated with it.
    """

    msgid: str
    values: Mapping[str, object]
    context: str | None = None
    """A gettext ``msgctxt``: the same English word meaning two things (see :func:`pgettext`)."""

    def __new__(cls, msgid: str, /, **values: object) -> Message:
        text = super().__new__(cls, msgid % values if values else msgid)
        text.msgid = msgid
        text.values = values
        return text

    def __reduce__(self) -> tuple[object, ...]:  # copies and pickles keep the msgid and values
        return (_restore, (type(self), str(self), dict(self.__dict__)))

    def filled(self, **values: object) -> Message:
        """This message (a template kept in a table) with ``values``, its context kept."""
        message = Message(self.msgid, **values)
        message.context = self.context
        return message

    def render(self, language: str) -> str:
        """This message in ``language`` (a language other than English)."""
        key = f"{self.context}\x04{self.msgid}" if self.context else self.msgid
        template = catalogue(language).get(key, self.msgid)
        if not self.values:
            return template
        values = {
            name: translate(value, language) if isinstance(value, Message) else value
            for name, value in self.values.items()
        }
        return template % values


def _restore(cls: type[Message], text: str, state: dict[str, object]) -> Message:
    message = str.__new__(cls, text)
    message.__dict__.update(state)
    return message


_ = Message
"""Mark and build a message (the keyword ``pybabel extract`` looks for)."""


def pgettext(context: str, msgid: str, /, **values: object) -> Message:
    """A message in a context: ``cancelled`` is 已取消 for a session and 已撤回 for a request."""
    message = Message(msgid, **values)
    message.context = context
    return message


@lru_cache(maxsize=4)
def catalogue(language: str) -> dict[str, str]:
    """msgid -> translation in ``language`` (English is the msgid itself: an empty catalogue)."""
    path = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        po = read_po(fh, locale=language, domain=DOMAIN)
    return {
        f"{m.context}\x04{m.id}" if m.context else str(m.id): str(m.string)
        for m in po
        if m.id and m.string and not m.fuzzy
    }


def translate(text: object, language: str | None = None) -> str:
    """``text`` in ``language`` (the request's when not given).

    A :class:`Message` is looked up by its msgid and filled with its (translated) values; a plain
    string is looked up as it is (a fixed text that lost its :class:`Message` on the way);
    anything not in the catalogue stays as it is.
    """
    language = language or current()
    if language == ENGLISH or language not in LANGUAGES:
        return str(text)
    if isinstance(text, Message):
        return text.render(language)
    plain = str(text)
    return catalogue(language).get(plain, plain)


def current() -> str:
    """The language of the request being answered (English outside a request)."""
    return _language.get()


def set_language(language: str) -> None:
    _language.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)


@contextmanager
def speaking(language: str) -> Iterator[None]:
    token = _language.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _language.reset(token)


def _preferred(accept_language: str) -> list[str]:
    """The language tags of an ``Accept-Language`` header, most preferred first (q=0 dropped)."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag.strip() and quality > 0:
            weighted.append((-quality, position, tag.strip()))
    return [tag for _q, _p, tag in sorted(weighted)]


def negotiate(accept_language: str | None) -> str:
    """:data:`CHINESE` when ``Accept-Language`` prefers Chinese (``zh``, ``zh-CN``, ``zh-Hans``,
    any ``zh-*``) over English, else :data:`ENGLISH` (also for none, ``*`` or other languages).

    Babel's negotiation picks the first preferred tag it has (a tag falls back to its language).
    """
    if not accept_language:
        return DEFAULT_LANGUAGE
    chosen = Locale.negotiate(_preferred(accept_language), ["zh", "en"], sep="-")
    return CHINESE if chosen is not None and chosen.language == "zh" else ENGLISH
