"""registration withdrawal

A registration may be withdrawn before its session starts: status ``withdrawn``, with when and
why; its seat is free again.

Revision ID: b41c7e2a9d05
Revises: c4a8e1f2d9b7
Create Date: 2026-12-02 00:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "b41c7e2a9d05"
down_revision: str | None = "c4a8e1f2d9b7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "status in ('registered', 'absent'{})"


def upgrade() -> None:
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("withdrawn_at", app.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("withdrawal_reason", sa.Text(), nullable=True))
        batch_op.drop_constraint(op.f("ck_registrations_status"), type_="check")
        batch_op.create_check_constraint("status", STATUSES.format(", 'withdrawn'"))


def downgrade() -> None:
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_registrations_status"), type_="check")
        batch_op.create_check_constraint("status", STATUSES.format(""))
        batch_op.drop_column("withdrawal_reason")
        batch_op.drop_column("withdrawn_at")
