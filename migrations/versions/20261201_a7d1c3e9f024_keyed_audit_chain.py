"""keyed audit chain: the head row carries an HMAC of the chain's tip

Entries already in the log keep their plain SHA-256 hashes; the first audited write under the
key (or ``oneexam audit seal``) appends a keyed ``audit.sealed`` entry that links to them, and
from then on every entry is keyed. The signature stays null until that first keyed write.

Revision ID: a7d1c3e9f024
Revises: 7c0a5e3b9d21
Create Date: 2026-12-01 20:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7d1c3e9f024"
down_revision: str | None = "7c0a5e3b9d21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signature", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.drop_column("signature")
