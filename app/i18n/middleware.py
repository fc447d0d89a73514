"""Pure ASGI middleware: each request is answered in the language its ``Accept-Language`` prefers."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import i18n

LANGUAGE_SCOPE_KEY = "language"


def language_of(scope: Scope) -> str:
    """The request's language: as negotiated by the middleware, or from its own header."""
    chosen = scope.get(LANGUAGE_SCOPE_KEY)
    if chosen in i18n.LANGUAGES:
        return str(chosen)
    for name, value in scope.get("headers") or []:
        if name == b"accept-language":
            return i18n.negotiate(value.decode("latin-1"))
    return i18n.DEFAULT_LANGUAGE


class LanguageMiddleware:
    """Sets the request's language (:func:`app.i18n.current`) and says it in ``Content-Language``
    on every response that does not say its own (console pages speak the person's language)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        language = scope[LANGUAGE_SCOPE_KEY] = language_of(scope)
        said = i18n.CONTENT_LANGUAGE[language].encode()

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                if not any(name.lower() == b"content-language" for name, _value in headers):
                    message["headers"] = [*headers, (b"content-language", said)]
            await send(message)

        with i18n.speaking(language):
            await self.app(scope, receive, send_with_language)
