"""Replay protection: Slack request signatures seen in the last minutes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seen_signatures",
        sa.Column("signature", sa.String(80), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_seen_signatures_seen_at", "seen_signatures", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_seen_signatures_seen_at", "seen_signatures")
    op.drop_table("seen_signatures")
