"""Slack app installations and OAuth state, in the project's database.

slack_sdk's SQLAlchemy stores do the work; their tables are created by our Alembic migrations
(0003), never by ``create_tables()``. The same table layouts are declared in our metadata, so
the test that compares models with migrations covers them too.
"""

from __future__ import annotations

import logging

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.store.base import Base

__all__ = ["OAUTH_STATE_SECONDS", "installed_team_ids", "state_store"]

OAUTH_STATE_SECONDS = 600

INSTALLATIONS = SQLAlchemyInstallationStore.build_installations_table(
    Base.metadata, SQLAlchemyInstallationStore.default_installations_table_name
)
BOTS = SQLAlchemyInstallationStore.build_bots_table(
    Base.metadata, SQLAlchemyInstallationStore.default_bots_table_name
)
STATES = SQLAlchemyOAuthStateStore.build_oauth_states_table(
    Base.metadata, SQLAlchemyOAuthStateStore.default_table_name
)


def state_store(engine: Engine) -> SQLAlchemyOAuthStateStore:
    return SQLAlchemyOAuthStateStore(
        expiration_seconds=OAUTH_STATE_SECONDS,
        engine=engine,
        logger=logging.getLogger("bot.installations"),
    )


def installed_team_ids(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(BOTS.c.team_id).where(BOTS.c.team_id.is_not(None)).distinct()
        )
        return sorted(str(team) for (team,) in rows)
