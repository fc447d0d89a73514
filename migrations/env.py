from __future__ import annotations

from contextlib import contextmanager, nullcontext

from alembic import context
from sqlalchemy import engine_from_config, pool

from app.db import Base, create_db_engine
from app.models import load_all_models

load_all_models()
config = context.config
target_metadata = Base.metadata
if not config.get_main_option("sqlalchemy.url"):
    # Run by hand with alembic.ini: take the database from the environment, as oneexam does.
    from app.config import load_settings
    from app.db import driver_url

    _url = driver_url(load_settings().database_url).render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", _url.replace("%", "%%"))


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    engine = create_db_engine(url) if url else engine_from_config({}, poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        compare_type=True,
        on_version_apply=[_foreign_keys_hold] if sqlite else [],
    )
    unenforced = _foreign_keys_unenforced(connection) if sqlite else nullcontext()
    with unenforced, context.begin_transaction():
        context.run_migrations()


@contextmanager
def _foreign_keys_unenforced(connection):  # type: ignore[no-untyped-def]
    """SQLite's procedure for changes that copy a table: foreign keys are not enforced while it
    runs, else dropping the old table deletes (and refuses) through every row that refers to
    it. The pragma takes effect only outside a transaction, so it is set before the first."""
    if connection.in_transaction():
        yield
        return
    raw = connection.connection.driver_connection
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def _foreign_keys_hold(*, ctx, step, **_) -> None:  # type: ignore[no-untyped-def]
    """After each revision: every foreign key still points at a row, or the upgrade stops and
    its transaction (every revision of this run) is rolled back, naming the revision."""
    broken = ctx.connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(
            f"revision {step.up_revision_id} leaves {len(broken)} row(s) whose foreign key"
            f" points at no row, e.g. {tuple(broken[0])}"
        )


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
