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
    "slack_installations",
    "slack_bots",
    "slack_oauth_states",
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
    # Rows from before workspaces wait for the installed workspace, then are its own.
    assert storage.checklists.ticked_items(
        team_id="", user_id="U1", channel_id="C1", checklist_id="hiring"
    ) == {"separate-roles"}
    assert storage.adopt_unowned("T0001") == 1
    assert storage.checklists.ticked_items(
        team_id="T0001", user_id="U1", channel_id="C1", checklist_id="hiring"
    ) == {"separate-roles"}
    assert storage.events.claim_event("Ev1", team_id="T0001") is True


def test_single_workspace_database_is_upgraded_in_place_and_taken_by_its_workspace(
    database_url: str,
) -> None:
    """0002 (one workspace, no team ids) -> head: every row stays, keys included, and the
    installed workspace takes them all; digest deliveries survive their table's rebuild."""
    engine = make_engine(database_url)
    upgrade(engine, "0002")
    now = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO digest_subscriptions (channel_id, cadence, at_time, weekday, tz,"
                " created_by, active, shown_pitfalls, created_at, updated_at) VALUES"
                " ('CDIG', 'weekly', '09:00', 0, 'UTC', 'U1', true, '[]', :now, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO digest_deliveries (subscription_id, period_key, status, claimed_by,"
                " lease_expires_at, message_ts, posted_at) SELECT id,"
                " '2026-11-30T09:00Z', 'posted', 'w1', :now, '1.1', :now FROM digest_subscriptions"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO radar_settings (channel_id, enabled, updated_by, updated_at)"
                " VALUES ('CR', true, 'U1', :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO answers (channel_id, user_id, thread_ts, message_ts, question,"
                " answered, passages_json, created_at) VALUES"
                " ('D1', 'U1', NULL, '2.2', 'how to hire?', true, '[]', :now)"
            ),
            {"now": now},
        )
    storage = Storage.from_url(database_url)
    assert current_revision(storage.engine) == head_revision()
    assert storage.adopt_unowned("T0001") == 4
    sub = storage.digests.subscription(team_id="T0001", channel_id="CDIG")
    assert sub is not None and sub.active
    last = storage.digests.last_posted(sub.id)
    assert last is not None and last.period_key == "2026-11-30T09:00Z"
    assert storage.radar.radar_enabled(team_id="T0001", channel_id="CR")
    with storage.engine.connect() as connection:
        answer_id = connection.execute(text("SELECT id FROM answers")).scalar_one()
    assert storage.answers.answer(answer_id, team_id="T0001") is not None
    # Another workspace's same channel is another subscription.
    storage.digests.upsert_subscription(
        team_id="T0002",
        channel_id="CDIG",
        cadence="daily",
        at_time="08:00",
        weekday=0,
        tz="UTC",
        created_by="U9",
        now=now,
    )
    assert len(storage.digests.active_subscriptions()) == 2
    assert storage.adopt_unowned("T0002") == 0


def test_health_names_a_database_that_is_down() -> None:
    from bot.slack.edge import check_health

    down = Storage(make_engine("postgresql+psycopg://postgres@127.0.0.1:9/test?connect_timeout=1"))
    parts = check_health(down, timeout=5)
    assert parts["index"] == parts["model"] == "ok"
    assert parts["database"].startswith("unreachable (") and "127.0.0.1" not in parts["database"]
