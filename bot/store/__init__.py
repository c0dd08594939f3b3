"""Durable state through SQLAlchemy 2.0: SQLite by default, PostgreSQL when DATABASE_URL says so.

One module per concern; :class:`Storage` holds one store of each over a shared engine.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from bot.store.answers import GAP_FLAG, AnswerRecord, AnswerStore, Feedback
from bot.store.base import Base, Database, as_utc, make_engine
from bot.store.checklists import ChecklistStore, ChecklistTick
from bot.store.digests import DigestDelivery, DigestStore, DigestSubscription
from bot.store.events import EventStore, ProcessedEvent
from bot.store.gaps import GapReportRecord, GapStore
from bot.store.installations import installed_team_ids
from bot.store.jobs import EventJob, JobStore
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
        self.gaps = GapStore(self)
        self.jobs = JobStore(self)

    @classmethod
    def from_url(cls, url: str, *, migrate: bool = True) -> Storage:
        """Connect, bringing the schema up to date first (``mlbot db upgrade`` does the same)."""
        storage = cls(make_engine(url))
        if migrate:
            from bot.store.migrate import upgrade

            upgrade(storage.engine)
        return storage

    def adopt_unowned(self, team_id: str) -> int:
        """Give rows stored before workspaces existed (team id '') to ``team_id``: an upgraded
        single-workspace database keeps everything. Returns how many rows moved."""
        if not team_id:
            return 0
        moved = 0
        with self.session() as session:
            for model in _OWNED:
                result = session.execute(
                    update(model).where(model.team_id == "").values(team_id=team_id)
                )
                moved += int(result.rowcount)  # type: ignore[attr-defined]
        return moved

    def installed_team_ids(self) -> list[str]:
        return installed_team_ids(self.engine)

    def known_team_ids(self) -> list[str]:
        """Workspaces that asked questions here (for terminal commands without a token)."""
        with self.session() as session:
            teams = session.scalars(
                select(AnswerRecord.team_id).where(AnswerRecord.team_id != "").distinct()
            )
            return sorted(teams)

    def purge(self, cutoff: dt.datetime) -> int:
        """Retention: delete questions (with their feedback), event claims, nudges and finished
        digest and gap-report claims older than ``cutoff``. Returns how many questions went."""
        with self.session() as session:
            old = select(AnswerRecord.id).where(AnswerRecord.created_at < cutoff)
            session.execute(delete(Feedback).where(Feedback.answer_id.in_(old)))
            gone = session.execute(delete(AnswerRecord).where(AnswerRecord.created_at < cutoff))
            session.execute(delete(ProcessedEvent).where(ProcessedEvent.received_at < cutoff))
            session.execute(delete(RadarNudge).where(RadarNudge.created_at < cutoff))
            session.execute(
                delete(EventJob).where(EventJob.status == "done", EventJob.created_at < cutoff)
            )
            for claim in (DigestDelivery, GapReportRecord):
                session.execute(
                    delete(claim).where(claim.status != "claimed", claim.posted_at < cutoff)
                )
            return int(gone.rowcount)  # type: ignore[attr-defined]

    def forget_user(self, user_id: str, *, team_id: str | None = None) -> int:
        """Delete one person's questions, votes, ticks and nudges (in one workspace, or in
        all). Channel settings they made stay, as the channel's. Returns rows deleted."""
        deleted = 0
        with self.session() as session:
            theirs = select(AnswerRecord.id).where(AnswerRecord.user_id == user_id)
            if team_id is not None:
                theirs = theirs.where(AnswerRecord.team_id == team_id)
            # Votes on their questions go with the questions.
            votes = session.execute(delete(Feedback).where(Feedback.answer_id.in_(theirs)))
            deleted += int(votes.rowcount)  # type: ignore[attr-defined]
            for model in (Feedback, AnswerRecord, ChecklistTick, RadarNudge):
                query = delete(model).where(model.user_id == user_id)
                if team_id is not None:
                    query = query.where(model.team_id == team_id)
                deleted += int(session.execute(query).rowcount)  # type: ignore[attr-defined]
        return deleted

    def forget_workspace(self, team_id: str) -> None:
        """The workspace uninstalled the app: its digests stop and its radar goes off."""
        self.digests.deactivate_workspace(team_id)
        self.radar.switch_off_workspace(team_id)


_OWNED = (
    ProcessedEvent,
    AnswerRecord,
    Feedback,
    ChecklistTick,
    DigestSubscription,
    DigestDelivery,
    RadarSetting,
    RadarNudge,
    GapReportRecord,
    EventJob,
)
