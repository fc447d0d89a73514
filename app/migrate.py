"""Alembic, driven from code: ``oneexam migrate``, readiness checks and tests use the same path."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

import migrations
from app.crypto import Vault
from app.db import driver_url

SCRIPT_LOCATION = Path(migrations.__file__).resolve().parent


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    rendered = driver_url(url).render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


def upgrade(url: str, revision: str = "head", *, vault: Callable[[], Vault] | None = None) -> None:
    """Migrate ``url`` up to ``revision``. Revisions that convert stored personal data (sealing
    certificate numbers) ask ``vault`` for the PII vault when they meet a row; without it they
    use the one the environment configures (``ONEEXAM_PII_KEY``)."""
    command.upgrade(_with_vault(alembic_config(url), vault), revision)


def downgrade(
    url: str, revision: str = "base", *, vault: Callable[[], Vault] | None = None
) -> None:
    command.downgrade(_with_vault(alembic_config(url), vault), revision)


def _with_vault(config: Config, vault: Callable[[], Vault] | None) -> Config:
    if vault is not None:
        config.attributes["pii_vault"] = cache(vault)
    return config


def head_revision() -> str | None:
    return ScriptDirectory(str(SCRIPT_LOCATION)).get_current_head()


def current_revision(connection: sa.Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
