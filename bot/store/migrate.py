"""Apply Alembic migrations safely: serialised across processes, and adopting a database that
the first release made with ``create_all`` (tables present, no ``alembic_version``)."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

__all__ = ["BASELINE", "current_revision", "head_revision", "upgrade"]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The schema the first release created without Alembic.
BASELINE = "0001"
_PG_LOCK_KEY = 0x6D6C626F74  # "mlbot": one advisory lock for all migrators


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextlib.contextmanager
def _exclusive(engine: Engine, connection: Connection) -> Iterator[None]:
    """One migrator at a time: an advisory lock on PostgreSQL, a file lock beside SQLite."""
    if engine.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
            connection.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the database to ``revision``; returns (before, after)."""
    with engine.connect() as connection, _exclusive(engine, connection):
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            # A rebuilt SQLite table is dropped and re-created; with foreign keys enforced,
            # dropping a parent would cascade into its children (digest deliveries). The pragma
            # only takes effect outside a transaction, so it comes first.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        tables = set(inspect(connection).get_table_names())
        before = MigrationContext.configure(connection).get_current_revision()
        if before is None and "answers" in tables:
            command.stamp(_config(connection), BASELINE)
            connection.commit()
            before = BASELINE
        command.upgrade(_config(connection), revision)
        connection.commit()
        after = MigrationContext.configure(connection).get_current_revision()
        if sqlite:
            connection.commit()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
    return before, after
