"""Workspaces: a team id on every row, and the OAuth installation and state tables.

Rows from before this revision get '' (no workspace yet); the app gives them the installed
workspace's id when it first starts with it (``Storage.adopt_unowned``), so nothing is lost.
The installation and state tables are slack_sdk's SQLAlchemy stores' own layout.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TEAM = "team_id"


def _team_column(**kwargs: object) -> sa.Column[str]:
    return sa.Column(_TEAM, sa.String(32), nullable=False, server_default="", **kwargs)  # type: ignore[arg-type]


def _rekey(table: str, columns: list[sa.Column[object]], keep: list[str]) -> None:
    """Recreate ``table`` with a new primary key that starts with the team id, keeping rows."""
    staging = f"{table}_v3"
    op.create_table(staging, _team_column(primary_key=True), *columns)
    names = ", ".join(keep)
    op.execute(f"INSERT INTO {staging} ({_TEAM}, {names}) SELECT '', {names} FROM {table}")
    op.drop_table(table)
    op.rename_table(staging, table)


def upgrade() -> None:
    # Plain additions: the keys stay as they are.
    with op.batch_alter_table("processed_events") as batch:
        batch.add_column(_team_column())
    with op.batch_alter_table("answers") as batch:
        batch.add_column(_team_column())
        batch.create_index("ix_answers_team_id", [_TEAM])
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(_team_column())
    with op.batch_alter_table("digest_deliveries") as batch:
        batch.add_column(_team_column())
    # A channel's subscription is unique within its workspace, not across all of them. The
    # constraint made in 0002 has no name of its own: the convention names it on SQLite (its
    # table is rebuilt), PostgreSQL named it <table>_<column>_key.
    sqlite = op.get_bind().dialect.name == "sqlite"
    old_unique = (
        "uq_digest_subscriptions_channel_id" if sqlite else "digest_subscriptions_channel_id_key"
    )
    with op.batch_alter_table(
        "digest_subscriptions",
        naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"},
        recreate="auto",
    ) as batch:
        batch.add_column(_team_column())
        batch.drop_constraint(old_unique, type_="unique")
        batch.create_unique_constraint(
            "uq_digest_subscriptions_team_channel", [_TEAM, "channel_id"]
        )
    # New primary keys: per workspace.
    _rekey(
        "checklist_ticks",
        [
            sa.Column("user_id", sa.String(32), primary_key=True),
            sa.Column("channel_id", sa.String(32), primary_key=True),
            sa.Column("checklist_id", sa.String(64), primary_key=True),
            sa.Column("item_id", sa.String(64), primary_key=True),
            sa.Column("ticked", sa.Boolean, nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        ],
        ["user_id", "channel_id", "checklist_id", "item_id", "ticked", "updated_at"],
    )
    _rekey(
        "radar_settings",
        [
            sa.Column("channel_id", sa.String(32), primary_key=True),
            sa.Column("enabled", sa.Boolean, nullable=False),
            sa.Column("updated_by", sa.String(32), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        ],
        ["channel_id", "enabled", "updated_by", "updated_at"],
    )
    _rekey(
        "radar_nudges",
        [
            sa.Column("channel_id", sa.String(32), primary_key=True),
            sa.Column("pitfall_id", sa.String(64), primary_key=True),
            sa.Column("day", sa.String(10), primary_key=True),
            sa.Column("user_id", sa.String(32), nullable=False),
            sa.Column("message_ts", sa.String(32), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        ],
        ["channel_id", "pitfall_id", "day", "user_id", "message_ts", "created_at"],
    )
    # OAuth: slack_sdk's SQLAlchemyInstallationStore and SQLAlchemyOAuthStateStore tables.
    op.create_table(
        "slack_installations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("app_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32)),
        sa.Column("enterprise_name", sa.String(200)),
        sa.Column("enterprise_url", sa.String(200)),
        sa.Column("team_id", sa.String(32)),
        sa.Column("team_name", sa.String(200)),
        sa.Column("bot_token", sa.String(200)),
        sa.Column("bot_id", sa.String(32)),
        sa.Column("bot_user_id", sa.String(32)),
        sa.Column("bot_scopes", sa.String(1000)),
        sa.Column("bot_refresh_token", sa.String(200)),
        sa.Column("bot_token_expires_at", sa.DateTime),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("user_token", sa.String(200)),
        sa.Column("user_scopes", sa.String(1000)),
        sa.Column("user_refresh_token", sa.String(200)),
        sa.Column("user_token_expires_at", sa.DateTime),
        sa.Column("incoming_webhook_url", sa.String(200)),
        sa.Column("incoming_webhook_channel", sa.String(200)),
        sa.Column("incoming_webhook_channel_id", sa.String(200)),
        sa.Column("incoming_webhook_configuration_url", sa.String(200)),
        sa.Column("is_enterprise_install", sa.Boolean, nullable=False),
        sa.Column("token_type", sa.String(32)),
        sa.Column("installed_at", sa.DateTime, nullable=False),
    )
    op.create_index(
        "slack_installations_idx",
        "slack_installations",
        ["client_id", "enterprise_id", "team_id", "user_id", "installed_at"],
    )
    op.create_table(
        "slack_bots",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("app_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32)),
        sa.Column("enterprise_name", sa.String(200)),
        sa.Column("team_id", sa.String(32)),
        sa.Column("team_name", sa.String(200)),
        sa.Column("bot_token", sa.String(200)),
        sa.Column("bot_id", sa.String(32)),
        sa.Column("bot_user_id", sa.String(32)),
        sa.Column("bot_scopes", sa.String(1000)),
        sa.Column("bot_refresh_token", sa.String(200)),
        sa.Column("bot_token_expires_at", sa.DateTime),
        sa.Column("is_enterprise_install", sa.Boolean, nullable=False),
        sa.Column("installed_at", sa.DateTime, nullable=False),
    )
    op.create_index(
        "slack_bots_idx", "slack_bots", ["client_id", "enterprise_id", "team_id", "installed_at"]
    )
    op.create_table(
        "slack_oauth_states",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("state", sa.String(200), nullable=False),
        sa.Column("expire_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("0003 adds workspaces; there is no way back without losing them")
