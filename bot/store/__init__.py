"""Durable state through SQLAlchemy 2.0: SQLite by default, PostgreSQL when DATABASE_URL says so.

One module per concern; :class:`Storage` holds one store of each over a shared engine.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from bot.store.answers import GAP_FLAG, AnswerRecord, AnswerStore, Feedback
from bot.store.base import Base, Database, as_utc, make_engine
from bot.store.checklists import ChecklistStore, ChecklistTick
from bot.store.digests import DigestDelivery, DigestStore, DigestSubscription
from bot.store.events import EventStore, ProcessedEvent
from bot.store.radar import RadarNudge, RadarSetting, RadarStore

__all__ = [
    "GAP_FLAG",
    "AnswerRecord",
    "Base",
    "ChecklistTick",
    "DigestDelivery",
    "DigestSubscription",
    "Feedback",
    "ProcessedEvent",
    "RadarNudge",
    "RadarSetting",
    "Storage",
    "as_utc",
    "make_engine",
]


class Storage(Database):
    """Every store over one engine: ``storage.answers.record_answer(...)`` and so on."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.events = EventStore(self)
        self.answers = AnswerStore(self)
        self.checklists = ChecklistStore(self)
        self.digests = DigestStore(self)
        self.radar = RadarStore(self)

    @classmethod
    def from_url(cls, url: str, *, migrate: bool = True) -> Storage:
        """Connect, bringing the schema up to date first (``mlbot db upgrade`` does the same)."""
        storage = cls(make_engine(url))
        if migrate:
            from bot.store.migrate import upgrade

            upgrade(storage.engine)
        return storage
