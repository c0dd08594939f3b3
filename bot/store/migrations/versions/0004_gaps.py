"""The knowledge owner's gap report: each answer's confidence and closest sections, and the
weekly reports claimed and sent (exactly once per owner per period).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("answers") as batch:
        batch.add_column(sa.Column("confidence", sa.Float))
        batch.add_column(sa.Column("sections_json", sa.Text, nullable=False, server_default="[]"))
    op.create_table(
        "gap_reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.String(32), nullable=False),
        sa.Column("period_key", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=False),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("groups", sa.Integer, nullable=False, server_default="0"),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("posted_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("team_id", "owner_id", "period_key", name="uq_gap_reports_period"),
    )


def downgrade() -> None:
    op.drop_table("gap_reports")
    with op.batch_alter_table("answers") as batch:
        batch.drop_column("sections_json")
        batch.drop_column("confidence")
