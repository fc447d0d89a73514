from __future__ import annotations

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
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
