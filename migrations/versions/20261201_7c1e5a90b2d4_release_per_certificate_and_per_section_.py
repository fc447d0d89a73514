"""release per certificate and per-section absence

Revision ID: 7c1e5a90b2d4
Revises: a7d1c3e9f024
Create Date: 2026-12-01 20:34:57.887051
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "7c1e5a90b2d4"
down_revision: str | None = "a7d1c3e9f024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SESSION_STATUSES = "status in ('scheduled', {}'finalised', 'cancelled')"
NEW_SESSION_STATUS = "'partially_finalised', "
OUTCOME_STATUSES = "status in ({}'qualified', 'not_qualified', 'absent')"
NEW_OUTCOME_STATUS = "'pending', "


def upgrade() -> None:
    op.create_table(
        "certificate_releases",
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("certificate", sa.String(length=32), nullable=False),
        sa.Column("released_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("released_by", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["exam_sessions.id"],
            name=op.f("fk_certificate_releases_session_id_exam_sessions"),
        ),
        sa.PrimaryKeyConstraint("session_id", "certificate", name=op.f("pk_certificate_releases")),
    )
    op.create_table(
        "section_absences",
        sa.Column("registration_id", sa.String(length=40), nullable=False),
        sa.Column("section", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("marked_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("marked_by", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_section_absences_registration_id_registrations"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["exam_sessions.id"],
            name=op.f("fk_section_absences_session_id_exam_sessions"),
        ),
        sa.PrimaryKeyConstraint("registration_id", "section", name=op.f("pk_section_absences")),
    )
    with op.batch_alter_table("section_absences", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_section_absences_session_id"), ["session_id"], unique=False
        )

    with op.batch_alter_table("exam_sessions", schema=None) as batch_op:
        batch_op.alter_column(
            "status",
            existing_type=sa.VARCHAR(length=16),
            type_=sa.String(length=24),
            existing_nullable=False,
        )
        batch_op.drop_constraint(op.f("ck_exam_sessions_status"), type_="check")
        batch_op.create_check_constraint("status", SESSION_STATUSES.format(NEW_SESSION_STATUS))
    with op.batch_alter_table("outcomes", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outcomes_status"), type_="check")
        batch_op.create_check_constraint("status", OUTCOME_STATUSES.format(NEW_OUTCOME_STATUS))


def downgrade() -> None:
    with op.batch_alter_table("outcomes", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outcomes_status"), type_="check")
        batch_op.create_check_constraint("status", OUTCOME_STATUSES.format(""))
    with op.batch_alter_table("exam_sessions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_exam_sessions_status"), type_="check")
        batch_op.create_check_constraint("status", SESSION_STATUSES.format(""))
        batch_op.alter_column(
            "status",
            existing_type=sa.String(length=24),
            type_=sa.VARCHAR(length=16),
            existing_nullable=False,
        )

    with op.batch_alter_table("section_absences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_section_absences_session_id"))

    op.drop_table("section_absences")
    op.drop_table("certificate_releases")
