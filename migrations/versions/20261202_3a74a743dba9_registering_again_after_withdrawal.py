"""registering again after withdrawal

A withdrawn registration stays on record, and the person may be registered in the same session
again: the unique constraint on (session_id, candidate_id) gives way to a unique index over the
registrations that are not withdrawn (at most one per person and session).

On PostgreSQL the constraint is dropped and the index created in place. On SQLite a constraint
written into CREATE TABLE goes only with the table, so ``registrations`` is copied into a new
one without it; ``migrations/env.py`` turns foreign key enforcement off while migrating (as
SQLite's procedure for such changes asks: else dropping the old table fails while results,
outcomes and claims refer to it) and checks every key after each revision (a broken one rolls
the upgrade back).

The downgrade puts the constraint back; it refuses while someone was registered again in a
session after withdrawing (two registrations of one person there).

Revision ID: 3a74a743dba9
Revises: 7df170dbafbe
Create Date: 2026-12-02 03:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3a74a743dba9"
down_revision: str | None = "7df170dbafbe"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNIQUE = "uq_registrations_session_id_candidate_id"
INDEX = "uq_registrations_session_id_candidate_id_not_withdrawn"
COLUMNS = ["session_id", "candidate_id"]
NOT_WITHDRAWN = "status <> 'withdrawn'"  # as written then (RegistrationStatus.WITHDRAWN)


def _on_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if _on_sqlite():
        with op.batch_alter_table("registrations", recreate="always") as batch_op:
            batch_op.drop_constraint(op.f(UNIQUE), type_="unique")
    else:
        op.drop_constraint(op.f(UNIQUE), "registrations", type_="unique")
    op.create_index(
        op.f(INDEX),
        "registrations",
        COLUMNS,
        unique=True,
        sqlite_where=sa.text(NOT_WITHDRAWN),
        postgresql_where=sa.text(NOT_WITHDRAWN),
    )


def downgrade() -> None:
    _refuse_registered_again()
    op.drop_index(op.f(INDEX), table_name="registrations")
    if _on_sqlite():
        with op.batch_alter_table("registrations", recreate="always") as batch_op:
            batch_op.create_unique_constraint(op.f(UNIQUE), COLUMNS)
    else:
        op.create_unique_constraint(op.f(UNIQUE), "registrations", COLUMNS)


def _refuse_registered_again() -> None:
    twice = op.get_bind().scalar(
        sa.text(
            "select count(*) from (select session_id, candidate_id from registrations"
            " group by session_id, candidate_id having count(*) > 1) as twice"
        )
    )
    if twice:
        raise RuntimeError(
            f"{twice} person(s) registered again in a session after withdrawing: the schema"
            " before this revision allows one registration per person and session"
        )
