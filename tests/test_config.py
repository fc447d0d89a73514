from __future__ import annotations

import pytest

from app.config import DEFAULT_RETRY_SCHEDULE, ConfigError, Settings, load_settings


def test_defaults_follow_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "HOST", "PORT", "WORKER", "RETRY_SCHEDULE", "DELIVERY_TIMEOUT"):
        monkeypatch.delenv(f"ONEEXAM_{name}", raising=False)
    settings = Settings()
    assert settings.database_url == "sqlite:///./var/oneexam.db"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.worker == "embedded"
    assert settings.retry_schedule == DEFAULT_RETRY_SCHEDULE
    assert settings.delivery_timeout == 15


def test_retry_schedule_is_a_comma_list_with_decimals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONEEXAM_RETRY_SCHEDULE", "0, 0.5,2")
    assert load_settings().retry_schedule == (0.0, 0.5, 2.0)


@pytest.mark.parametrize(
    ("name", "value", "mentions"),
    [
        ("ONEEXAM_PORT", "eighty", "ONEEXAM_PORT"),
        ("ONEEXAM_WORKER", "sometimes", "ONEEXAM_WORKER"),
        ("ONEEXAM_RETRY_SCHEDULE", "0,,5", "ONEEXAM_RETRY_SCHEDULE"),
        ("ONEEXAM_RETRY_SCHEDULE", "0,-5", "ONEEXAM_RETRY_SCHEDULE"),
        ("ONEEXAM_DATABASE_URL", "mysql://x/y", "ONEEXAM_DATABASE_URL"),
        ("ONEEXAM_DELIVERY_TIMEOUT", "0", "ONEEXAM_DELIVERY_TIMEOUT"),
    ],
)
def test_a_bad_value_fails_fast_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, mentions: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert mentions in str(err.value)


@pytest.mark.parametrize("value", ["info", "Warning", "DEBUG", "error"])
def test_log_level_names_are_read_in_any_case(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ONEEXAM_LOG_LEVEL", value)
    assert load_settings().log_level == value.upper()
