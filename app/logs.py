"""Logs on stderr: readable lines for people, one JSON object per line for machines.

``ONEEXAM_LOG_FORMAT=console|json`` chooses (console by default when stderr is a terminal,
json otherwise). Both carry an ISO 8601 timestamp with its zone, the level, the logger and
the message, then the record's own fields once each (``extra={...}``). Loggers are named by
what they tell: ``oneexam.http`` is the access line (one per request), ``oneexam.delivery``
the worker, ``uvicorn.error`` the server itself; get one with ``logging.getLogger(name)``.

What never reaches a log line: request bodies, API keys, signing secrets, national ID numbers.
Request lines carry the route *template* (``/v1/sessions/{session_id}``), not the raw path.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["console", "json"]

_configured = False
# Attributes every LogRecord has; whatever else a record carries came from ``extra``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# uvicorn copies each message with ANSI colour codes into ``color_message``: never shown.
_DROPPED = {"color_message", "taskName"}


def timestamp(record: logging.LogRecord, *, utc: bool) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return (moment if utc else moment.astimezone()).isoformat(timespec="milliseconds")


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's own fields (from ``extra``), without the standard ones or colour copies."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and k not in _DROPPED}


class _Json(JsonFormatter):
    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["time"] = timestamp(record, utc=True)
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.getMessage()
        log_data.update(fields(record))
        log_data.update(message_dict)
        if record.exc_info and "exc_info" not in log_data:
            log_data["exc_info"] = self.formatException(record.exc_info)


def json_formatter() -> logging.Formatter:
    return _Json(json_ensure_ascii=False)


_COLOURS = {"DEBUG": "2", "INFO": "32", "WARNING": "33", "ERROR": "31", "CRITICAL": "1;31"}


class ConsoleFormatter(logging.Formatter):
    """``2026-12-15T09:00:01.123+08:00 INFO  oneexam.http  GET /readyz 200 · duration_ms=3.1``"""

    def __init__(self, *, colour: bool) -> None:
        super().__init__()
        self.colour = colour

    def _paint(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def format(self, record: logging.LogRecord) -> str:
        extra = fields(record)
        message = record.getMessage()
        if record.name == "oneexam.http" and {"method", "path", "status"} <= extra.keys():
            message = f"{extra.pop('method')} {extra.pop('path')} {extra.pop('status')}"
        level = self._paint(_COLOURS.get(record.levelname, "0"), f"{record.levelname:<7}")
        line = f"{timestamp(record, utc=False)} {level} {self._paint('36', record.name)}  {message}"
        if extra:
            line += self._paint("2", "  " + " ".join(f"{k}={v}" for k, v in extra.items()))
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def default_format() -> LogFormat:
    return "console" if sys.stderr.isatty() else "json"


def formatter(fmt: LogFormat | None = None) -> logging.Formatter:
    chosen = fmt or default_format()
    if chosen == "json":
        return json_formatter()
    return ConsoleFormatter(colour=sys.stderr.isatty())


def configure_logging(level: str = "INFO", fmt: LogFormat | None = None) -> None:
    global _configured
    root = logging.getLogger()
    root.setLevel(level.upper())
    if _configured:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler.set_name("oneexam")
    root.addHandler(handler)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # uvicorn's access log prints raw paths and client addresses; oneexam writes its own line
    # (logger ``oneexam.http``).
    logging.getLogger("uvicorn.access").disabled = True
    # Client libraries would log every webhook URL and migration check at INFO.
    for name in ("httpx", "httpcore", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)
    _configured = True
