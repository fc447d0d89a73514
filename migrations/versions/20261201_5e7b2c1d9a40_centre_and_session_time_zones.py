"""centre and session time zones

Centres carry an IANA zone (default ONEEXAM_TIMEZONE, Asia/Shanghai); each session pins its
centre's zone when scheduled, and its exam date is the local date of its start in that zone.

Revision ID: 5e7b2c1d9a40
Revises: 9e4b2c6d1f37
Create Date: 2026-12-01 21:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e7b2c1d9a40"
down_revision: str | None = "9e4b2c6d1f37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("centres", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "timezone", sa.String(length=64), server_default="Asia/Shanghai", nullable=False
            )
        )
    with op.batch_alter_table("exam_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "timezone", sa.String(length=64), server_default="Asia/Shanghai", nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("exam_sessions", schema=None) as batch_op:
        batch_op.drop_column("timezone")
    with op.batch_alter_table("centres", schema=None) as batch_op:
        batch_op.drop_column("timezone")
