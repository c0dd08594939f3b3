"""Durable state through SQLAlchemy 2.0: SQLite by default, PostgreSQL when DATABASE_URL says so."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

__all__ = ["Base", "Storage", "make_engine"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class ProcessedEvent(Base):
    """Slack event ids already handled: a retried delivery is recognised and skipped."""

    __tablename__ = "processed_events"
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class AnswerRecord(Base):
    """Every answer shown, with the passages it quoted (feedback refers to it)."""

    __tablename__ = "answers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel_id: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32), index=True)
    message_ts: Mapped[str | None] = mapped_column(String(32))
    question: Mapped[str] = mapped_column(Text)
    answered: Mapped[bool] = mapped_column(Boolean)
    passages_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("answer_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))
    vote: Mapped[int] = mapped_column(SmallInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ChecklistTick(Base):
    """One person's tick on one checklist item, per channel."""

    __tablename__ = "checklist_ticks"
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    checklist_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticked: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder created and WAL for concurrency."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class Storage:
    """Queries the bot needs, each in its own short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str) -> Storage:
        storage = cls(make_engine(url))
        storage.create_schema()
        return storage

    def create_schema(self) -> None:
        Base.metadata.create_all(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # Events -----------------------------------------------------------------------------------
    def claim_event(self, event_id: str) -> bool:
        """True the first time an event id is seen; False for any redelivery."""
        try:
            with self.session() as session:
                session.add(ProcessedEvent(event_id=event_id))
        except IntegrityError:
            return False
        return True

    # Answers and feedback ---------------------------------------------------------------------
    def record_answer(
        self,
        *,
        channel_id: str,
        user_id: str,
        thread_ts: str | None,
        question: str,
        answered: bool,
        passages: Sequence[dict[str, Any]],
    ) -> int:
        with self.session() as session:
            record = AnswerRecord(
                channel_id=channel_id,
                user_id=user_id,
                thread_ts=thread_ts,
                question=question,
                answered=answered,
                passages_json=json.dumps(list(passages), ensure_ascii=False),
            )
            session.add(record)
            session.flush()
            return record.id

    def set_answer_message(self, answer_id: int, message_ts: str) -> None:
        with self.session() as session:
            record = session.get(AnswerRecord, answer_id)
            if record is not None:
                record.message_ts = message_ts

    def thread_question(self, *, channel_id: str, thread_ts: str) -> str | None:
        """The latest question the bot answered in a thread (context for follow-ups)."""
        with self.session() as session:
            return session.scalars(
                select(AnswerRecord.question)
                .where(AnswerRecord.channel_id == channel_id, AnswerRecord.thread_ts == thread_ts)
                .order_by(AnswerRecord.id.desc())
                .limit(1)
            ).first()

    def answer(self, answer_id: int) -> AnswerRecord | None:
        with self.session() as session:
            return session.get(AnswerRecord, answer_id)

    def record_feedback(self, *, answer_id: int, user_id: str, vote: int) -> bool:
        """Store (or change) a person's vote on an answer; False if the answer is unknown."""
        with self.session() as session:
            if session.get(AnswerRecord, answer_id) is None:
                return False
            existing = session.scalars(
                select(Feedback).where(Feedback.answer_id == answer_id, Feedback.user_id == user_id)
            ).first()
            if existing:
                existing.vote, existing.updated_at = vote, _now()
            else:
                session.add(Feedback(answer_id=answer_id, user_id=user_id, vote=vote))
        return True

    def feedback(self, answer_id: int) -> list[tuple[str, int]]:
        with self.session() as session:
            rows = session.execute(
                select(Feedback.user_id, Feedback.vote).where(Feedback.answer_id == answer_id)
            )
            return [(user, vote) for user, vote in rows]

    # Checklists -------------------------------------------------------------------------------
    def set_tick(
        self, *, user_id: str, channel_id: str, checklist_id: str, item_id: str, ticked: bool
    ) -> None:
        with self.session() as session:
            key = (user_id, channel_id, checklist_id, item_id)
            tick = session.get(ChecklistTick, key)
            if tick is None:
                session.add(
                    ChecklistTick(
                        user_id=user_id,
                        channel_id=channel_id,
                        checklist_id=checklist_id,
                        item_id=item_id,
                        ticked=ticked,
                    )
                )
            else:
                tick.ticked, tick.updated_at = ticked, _now()

    def ticked_items(self, *, user_id: str, channel_id: str, checklist_id: str) -> set[str]:
        with self.session() as session:
            return set(
                session.scalars(
                    select(ChecklistTick.item_id).where(
                        ChecklistTick.user_id == user_id,
                        ChecklistTick.channel_id == channel_id,
                        ChecklistTick.checklist_id == checklist_id,
                        ChecklistTick.ticked.is_(True),
                    )
                )
            )
