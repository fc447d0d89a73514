"""The migrations build exactly the schema the models describe, and unwind cleanly."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from app.db import Base, create_db_engine
from app.migrate import downgrade, head_revision, upgrade
from app.models import load_all_models


def test_upgrade_head_matches_models_and_downgrade_base_removes_everything(
    empty_database_url: str,
) -> None:
    load_all_models()
    upgrade(empty_database_url)
    engine = create_db_engine(empty_database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert context.get_current_revision() == head_revision()
            diff = compare_metadata(context, Base.metadata)
            assert diff == [], f"models and migrations differ: {diff}"
            tables = set(sa.inspect(conn).get_table_names())
        assert set(Base.metadata.tables) <= tables

        downgrade(empty_database_url, "base")
        with engine.connect() as conn:
            left = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
            assert left == set()
            assert MigrationContext.configure(conn).get_current_revision() is None

        upgrade(empty_database_url)  # and back up again: the downgrade left nothing behind
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head_revision()
    finally:
        engine.dispose()
