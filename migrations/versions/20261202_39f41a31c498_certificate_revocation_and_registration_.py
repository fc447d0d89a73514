"""certificate revocation and registration replans

A certificate in the record can be revoked by its department (or an admin): it carries the
local date, the reason and who revoked it. Certificates already revoked with their cancelled
request get the date of that cancellation (in Asia/Shanghai, the default zone) and a reason
saying so. Registrations keep a list of re-plans made by the service itself.

Revision ID: 39f41a31c498
Revises: b3f9d2a6c815
Create Date: 2026-12-02 00:40:00
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from app.db import UTCDateTime

revision: str = "39f41a31c498"
down_revision: str | None = "b3f9d2a6c815"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CANCELLED = "the issuance request it was issued on was cancelled"


def upgrade() -> None:
    op.add_column("candidate_certificates", sa.Column("revoked_on", sa.Date(), nullable=True))
    op.add_column(
        "candidate_certificates", sa.Column("revocation_reason", sa.Text(), nullable=True)
    )
    op.add_column(
        "candidate_certificates", sa.Column("revoked_by", sa.String(length=80), nullable=True)
    )
    # plain ALTER TABLE … ADD/DROP COLUMN on both backends: on SQLite a batch would copy the
    # table, and dropping registrations while results and outcomes refer to it fails
    op.add_column(
        "registrations", sa.Column("replans", sa.JSON(), server_default="[]", nullable=False)
    )
    _date_earlier_revocations()


def _date_earlier_revocations() -> None:
    table = sa.table(
        "candidate_certificates",
        sa.column("id", sa.String),
        sa.column("revoked_at", UTCDateTime()),
        sa.column("revoked_on", sa.Date),
        sa.column("revocation_reason", sa.Text),
        sa.column("revoked_by", sa.String),
    )
    bind = op.get_bind()
    zone = ZoneInfo("Asia/Shanghai")
    rows = bind.execute(
        sa.select(table.c.id, table.c.revoked_at).where(table.c.revoked_at.is_not(None))
    ).all()
    for row in rows:
        bind.execute(
            sa.update(table)
            .where(table.c.id == row.id)
            .values(
                revoked_on=row.revoked_at.astimezone(zone).date(),
                revocation_reason=CANCELLED,
                revoked_by="re-evaluation",
            )
        )


def downgrade() -> None:
    op.drop_column("registrations", "replans")
    for column in ("revoked_by", "revocation_reason", "revoked_on"):
        op.drop_column("candidate_certificates", column)
