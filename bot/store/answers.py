"""Answers shown and the feedback on them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.base import WORKSPACE_ID, Base, Store, _now


class AnswerRecord(Base):
    """Every answer shown, with the passages it quoted (feedback refers to it)."""

    __tablename__ = "answers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(WORKSPACE_ID, index=True)
    channel_id: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32), index=True)
    message_ts: Mapped[str | None] = mapped_column(String(32))
    question: Mapped[str] = mapped_column(Text)
    answered: Mapped[bool] = mapped_column(Boolean)
    passages_json: Mapped[str] = mapped_column(Text)
    # The best similarity found, and the sections that came closest (for the gap report).
    confidence: Mapped[float | None] = mapped_column(Float)
    sections_json: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


# Feedback votes: 1 helpful, -1 not helpful, 0 a gap flagged on a "not covered" reply.
GAP_FLAG = 0


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("answer_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"))
    team_id: Mapped[str] = mapped_column(WORKSPACE_ID)
    user_id: Mapped[str] = mapped_column(String(32))
    vote: Mapped[int] = mapped_column(SmallInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class AnswerStore(Store):
    """Answers and feedback."""

    def record_answer(
        self,
        *,
        team_id: str,
        channel_id: str,
        user_id: str,
        thread_ts: str | None,
        question: str,
        answered: bool,
        passages: Sequence[dict[str, Any]],
        confidence: float | None = None,
        sections: Sequence[str] = (),
    ) -> int:
        with self.session() as session:
            record = AnswerRecord(
                team_id=team_id,
                channel_id=channel_id,
                user_id=user_id,
                thread_ts=thread_ts,
                question=question,
                answered=answered,
                passages_json=json.dumps(list(passages), ensure_ascii=False),
                confidence=confidence,
                sections_json=json.dumps(list(sections), ensure_ascii=False),
            )
            session.add(record)
            session.flush()
            return record.id

    def set_answer_message(self, answer_id: int, message_ts: str) -> None:
        with self.session() as session:
            record = session.get(AnswerRecord, answer_id)
            if record is not None:
                record.message_ts = message_ts

    def thread_question(self, *, team_id: str, channel_id: str, thread_ts: str) -> str | None:
        """The latest question the bot answered in a thread (context for follow-ups)."""
        with self.session() as session:
            return session.scalars(
                select(AnswerRecord.question)
                .where(
                    AnswerRecord.team_id == team_id,
                    AnswerRecord.channel_id == channel_id,
                    AnswerRecord.thread_ts == thread_ts,
                )
                .order_by(AnswerRecord.id.desc())
                .limit(1)
            ).first()

    def answer(self, answer_id: int, *, team_id: str) -> AnswerRecord | None:
        """The answer, if it belongs to this workspace."""
        with self.session() as session:
            record = session.get(AnswerRecord, answer_id)
            return record if record is not None and record.team_id == team_id else None

    def record_feedback(self, *, team_id: str, answer_id: int, user_id: str, vote: int) -> bool:
        """Store (or change) a person's vote on an answer; False if the answer is unknown here
        (another workspace's answer id is unknown, too)."""
        with self.session() as session:
            record = session.get(AnswerRecord, answer_id)
            if record is None or record.team_id != team_id:
                return False
            existing = session.scalars(
                select(Feedback).where(Feedback.answer_id == answer_id, Feedback.user_id == user_id)
            ).first()
            if existing:
                existing.vote, existing.updated_at = vote, _now()
            else:
                session.add(
                    Feedback(answer_id=answer_id, team_id=team_id, user_id=user_id, vote=vote)
                )
        return True

    def feedback(self, answer_id: int) -> list[tuple[str, int]]:
        with self.session() as session:
            rows = session.execute(
                select(Feedback.user_id, Feedback.vote).where(Feedback.answer_id == answer_id)
            )
            return [(user, vote) for user, vote in rows]
