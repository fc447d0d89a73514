"""outcomes carried

Revision ID: c4a8e1f2d9b7
Revises: 5e7b2c1d9a40
Create Date: 2026-12-02 00:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4a8e1f2d9b7"
down_revision: str | None = "5e7b2c1d9a40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outcomes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("carried", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outcomes", schema=None) as batch_op:
        batch_op.drop_column("carried")
