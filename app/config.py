"""Settings, read once from the environment (prefix ``ONEEXAM_``).

A bad value stops the process at start-up with a message naming the variable; nothing runs
half-configured.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.clock import DEFAULT_TIMEZONE, zone
from app.delivery.egress import Network, parse_networks

DEFAULT_DATABASE_URL = "sqlite:///./var/oneexam.db"
DEFAULT_RETRY_SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)


class ConfigError(Exception):
    """The environment holds a value oneexam cannot run with."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ONEEXAM_", extra="ignore", frozen=True)

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    admin_key: SecretStr | None = None
    worker: Literal["embedded", "off"] = "embedded"
    retry_schedule: Annotated[tuple[float, ...], NoDecode] = DEFAULT_RETRY_SCHEDULE
    delivery_timeout: float = Field(15.0, gt=0, le=300)
    pii_key: SecretStr | None = None
    audit_key: SecretStr | None = Field(
        None, description="key of the audit chain's HMAC; derived from the PII key when unset"
    )
    webhook_allowed_networks: Annotated[tuple[Network, ...], NoDecode] = Field(
        (), description="CIDRs webhooks may reach although not globally routable"
    )

    @field_validator("webhook_allowed_networks", mode="before")
    @classmethod
    def _parse_networks(cls, value: object) -> object:
        return parse_networks(value) if isinstance(value, str) else value

    # Extensions beyond the contract's table, all with sensible defaults.
    delivery_concurrency: int = Field(
        8, ge=1, le=256, description="in-flight webhooks per department"
    )
    delivery_poll_interval: float = Field(0.5, gt=0, le=60)
    delivery_lease_margin: float = Field(10.0, ge=0, le=3600)
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    worker_metrics_port: int | None = Field(
        None, ge=1, le=65535, description="`oneexam worker`: serve /metrics on this port"
    )
    lookup_rate_limit: int = Field(
        120, ge=1, le=1_000_000, description="certificate lookups per key per minute"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    timezone: str = Field(
        DEFAULT_TIMEZONE, description='IANA zone of "today" and of centres that name none'
    )

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        zone(value)  # raises ValueError for a name the zone database does not know
        return value

    log_format: Literal["console", "json"] | None = Field(
        None, description="console (readable) or json; default console on a terminal, else json"
    )

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_in_any_case(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().lower() or None
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_any_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("retry_schedule", mode="before")
    @classmethod
    def _parse_schedule(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",")]
            if not value.strip() or any(not p for p in parts):
                raise ValueError("expected a comma-separated list of seconds, e.g. 0,5,300")
            try:
                return tuple(float(p) for p in parts)
            except ValueError:
                raise ValueError(f"not a list of numbers: {value!r}") from None
        return value

    @field_validator("retry_schedule")
    @classmethod
    def _check_schedule(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value:
            raise ValueError("at least one attempt is needed")
        if any(v < 0 for v in value):
            raise ValueError("delays cannot be negative")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        scheme = value.split(":", 1)[0].split("+", 1)[0]
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @cached_property
    def data_dir(self) -> Path:
        """Where the embedded database lives; generated keys are kept beside it."""
        if self.is_sqlite:
            path = self.database_url.split("///", 1)[-1].split("?", 1)[0]
            if path and path != ":memory:":
                return Path(path).expanduser().resolve().parent
        return Path("var").resolve()

    @property
    def lease_seconds(self) -> float:
        """How long a claimed delivery stays locked to one worker without renewal.

        A running worker renews the leases it holds every 5 s (a heartbeat) and cuts any
        attempt off before its lease could lapse (app/delivery/leases.py), so the lease can be
        short: a dead worker's events are taken over within it.
        """
        return max(10.0, 5.0 + self.delivery_lease_margin)


def load_settings(**overrides: object) -> Settings:
    """Read the environment (``overrides``, e.g. from command-line options, win), turning
    pydantic's report into one readable message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = "ONEEXAM_" + "_".join(str(p) for p in err["loc"][:1]).upper()
            lines.append(f"{name}: {err['msg']}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
