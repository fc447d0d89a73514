"""Log lines: JSON for machines (one object per line, each field once, ISO 8601 time with zone,
no ANSI copies), readable lines for people, chosen by ONEEXAM_LOG_FORMAT or the terminal."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from datetime import datetime

import pytest

from app.config import load_settings

SCRIPT = """
import logging
from app.logs import configure_logging
configure_logging("info", {fmt})
logging.getLogger("uvicorn.error").info(
    "Started server process [%d]", 42,
    extra={{"color_message": "Started server process [\\x1b[36m%d\\x1b[0m]"}},
)
logging.getLogger("oneexam.http").info(
    "request", extra={{"method": "GET", "path": "/readyz", "status": 200, "duration_ms": 1.5}}
)
logging.getLogger("oneexam.delivery").debug("not shown at info")
"""


def _log(fmt: str | None, env: dict[str, str] | None = None) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ONEEXAM_")}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(fmt=repr(fmt))],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stderr.splitlines()


def test_json_lines_carry_each_field_once_with_a_zoned_timestamp_and_no_ansi() -> None:
    lines = _log(None)  # stderr is a pipe here: json by default
    assert len(lines) == 2
    started, access = (json.loads(line) for line in lines)
    for raw in lines:
        assert "\x1b" not in raw and "\\u001b" not in raw and "color_message" not in raw
        assert raw.count('"message"') == 1 and raw.count('"time"') == 1
    assert started["message"] == "Started server process [42]"
    assert started["logger"] == "uvicorn.error" and started["level"] == "INFO"
    moment = datetime.fromisoformat(started["time"])
    assert moment.utcoffset() is not None
    assert access["logger"] == "oneexam.http"
    assert (access["method"], access["path"], access["status"]) == ("GET", "/readyz", 200)


def test_console_lines_read_as_text() -> None:
    lines = _log("console")
    assert len(lines) == 2
    assert all(not line.startswith("{") and "\x1b" not in line for line in lines)
    assert "Started server process [42]" in lines[0] and "color_message" not in lines[0]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d INFO ", lines[0])
    assert "oneexam.http" in lines[1] and "GET /readyz 200" in lines[1]
    assert "duration_ms=1.5" in lines[1]


@pytest.mark.parametrize(("value", "expected"), [("json", "json"), ("Console", "console")])
def test_log_format_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: str
) -> None:
    monkeypatch.setenv("ONEEXAM_LOG_FORMAT", value)
    assert load_settings().log_format == expected


def test_an_unknown_log_format_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.config import ConfigError

    monkeypatch.setenv("ONEEXAM_LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match="ONEEXAM_LOG_FORMAT"):
        load_settings()


def test_exceptions_stay_inside_their_json_line() -> None:
    from app.logs import json_formatter

    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, "", 0, "failed", None, sys.exc_info())
    line = json_formatter().format(record)
    assert "\n" not in line and "ValueError: boom" in json.loads(line)["exc_info"]
