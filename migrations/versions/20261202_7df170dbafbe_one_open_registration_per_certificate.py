"""one open registration per person and certificate

``registration_claims`` holds, per person (candidate) and certificate, the one registration
open for it across sessions; its primary key is what refuses a second (registered-elsewhere).
Existing registrations claim their targets here: those still ``registered`` in a session that
is not cancelled, for the certificates it has not released. Where the same person was already
registered for one certificate in two sessions, the earlier registration keeps the claim.

Revision ID: 7df170dbafbe
Revises: 39f41a31c498
Create Date: 2026-12-02 00:45:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7df170dbafbe"
down_revision: str | None = "39f41a31c498"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    claims = op.create_table(
        "registration_claims",
        sa.Column("candidate_id", sa.String(length=40), nullable=False),
        sa.Column("certificate", sa.String(length=32), nullable=False),
        sa.Column("registration_id", sa.String(length=40), nullable=False),
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
            name=op.f("fk_registration_claims_candidate_id_candidates"),
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_registration_claims_registration_id_registrations"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["exam_sessions.id"],
            name=op.f("fk_registration_claims_session_id_exam_sessions"),
        ),
        sa.PrimaryKeyConstraint("candidate_id", "certificate", name=op.f("pk_registration_claims")),
    )
    with op.batch_alter_table("registration_claims", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registration_claims_registration_id"), ["registration_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_registration_claims_session_id"), ["session_id"], unique=False
        )
    _claim_existing(claims)


def _claim_existing(claims: sa.Table) -> None:
    conn = op.get_bind()
    released = {
        (session_id, certificate)
        for session_id, certificate in conn.execute(
            sa.text("select session_id, certificate from certificate_releases")
        )
    }
    rows = conn.execute(
        sa.text(
            "select r.id, r.session_id, r.candidate_id, r.targets from registrations r"
            " join exam_sessions s on s.id = r.session_id"
            " where r.status = 'registered' and s.status in ('scheduled', 'partially_finalised')"
            " order by r.created_at, r.id"
        )
    )
    taken: dict[tuple[str, str], dict[str, str]] = {}
    for registration_id, session_id, candidate_id, targets in rows:
        codes = json.loads(targets) if isinstance(targets, str) else targets
        for certificate in codes:
            if (session_id, certificate) not in released:
                taken.setdefault(
                    (candidate_id, certificate),
                    {
                        "candidate_id": candidate_id,
                        "certificate": certificate,
                        "registration_id": registration_id,
                        "session_id": session_id,
                    },
                )
    if taken:
        op.bulk_insert(claims, list(taken.values()))


def downgrade() -> None:
    with op.batch_alter_table("registration_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registration_claims_session_id"))
        batch_op.drop_index(batch_op.f("ix_registration_claims_registration_id"))
    op.drop_table("registration_claims")
