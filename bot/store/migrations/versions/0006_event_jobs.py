"""Durable questions: each acknowledged question is a job until its reply is posted.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_jobs",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("thread_ts", sa.String(32)),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("context", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.SmallInteger, nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=False),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_event_jobs_status", "event_jobs", ["status"])


def downgrade() -> None:
    op.drop_index("ix_event_jobs_status", "event_jobs")
    op.drop_table("event_jobs")
