"""Alembic migrations: from empty, from the first release's create_all schema, models in sync."""

from __future__ import annotations

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from bot.store import Base, Storage, make_engine
from bot.store.migrate import current_revision, head_revision, upgrade

EXPECTED_TABLES = {
    "processed_events",
    "answers",
    "feedback",
    "checklist_ticks",
    "digest_subscriptions",
    "digest_deliveries",
    "radar_settings",
    "radar_nudges",
}


def test_upgrade_from_empty_creates_every_table(database_url: str) -> None:
    engine = make_engine(database_url)
    before, after = upgrade(engine)
    assert before is None and after == head_revision()
    assert set(inspect(engine).get_table_names()) >= EXPECTED_TABLES
    assert upgrade(engine) == (head_revision(), head_revision())  # idempotent


def test_models_match_the_migrations(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diffs == []


def test_database_from_the_previous_release_is_adopted_and_kept(database_url: str) -> None:
    engine = make_engine(database_url)
    # The first release made its tables with create_all and had no alembic_version table.
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
        connection.execute(
            text(
                "INSERT INTO checklist_ticks (user_id, channel_id, checklist_id, item_id, ticked,"
                " updated_at) VALUES ('U1', 'C1', 'hiring', 'separate-roles', true, :now)"
            ),
            {"now": dt.datetime.now(dt.UTC)},
        )
    assert current_revision(engine) is None
    storage = Storage.from_url(database_url)  # migrates on start
    assert current_revision(storage.engine) == head_revision()
    assert storage.checklists.ticked_items(
        user_id="U1", channel_id="C1", checklist_id="hiring"
    ) == {"separate-roles"}
    assert storage.events.claim_event("Ev1") is True
