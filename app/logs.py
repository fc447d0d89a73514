"""Structured JSON logs, one object per line.

What never reaches a log line: request bodies, API keys, signing secrets, national ID numbers.
Request lines carry the route *template* (``/v1/sessions/{session_id}``), not the raw path.
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

_configured = False


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        "{asctime}{levelname}{name}{message}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        timestamp=False,
    )


def configure_logging(level: str = "INFO") -> None:
    global _configured
    root = logging.getLogger()
    root.setLevel(level)
    if _configured:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    handler.set_name("oneexam")
    root.addHandler(handler)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # uvicorn's access log prints raw paths and client addresses; oneexam writes its own line.
    logging.getLogger("uvicorn.access").disabled = True
    # Client libraries would log every webhook URL and migration check at INFO.
    for name in ("httpx", "httpcore", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)
    _configured = True
