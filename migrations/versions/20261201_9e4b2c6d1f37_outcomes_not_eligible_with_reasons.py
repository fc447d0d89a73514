"""outcomes not eligible with reasons

Revision ID: 9e4b2c6d1f37
Revises: 7c1e5a90b2d4
Create Date: 2026-12-01 21:32:40.036282
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9e4b2c6d1f37"
down_revision: str | None = "7c1e5a90b2d4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "status in ('pending', 'qualified', 'not_qualified', {}'absent')"
NOT_ELIGIBLE = "'not_eligible', "


def upgrade() -> None:
    with op.batch_alter_table("outcomes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reasons", sa.JSON(), nullable=True))
        batch_op.drop_constraint(op.f("ck_outcomes_status"), type_="check")
        batch_op.create_check_constraint("status", STATUSES.format(NOT_ELIGIBLE))


def downgrade() -> None:
    with op.batch_alter_table("outcomes", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outcomes_status"), type_="check")
        batch_op.create_check_constraint("status", STATUSES.format(""))
        batch_op.drop_column("reasons")
