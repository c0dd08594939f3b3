"""What the gap report reads (questions the knowledge base answered badly or not at all) and the
weekly reports claimed and sent, one per owner per period."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import DateTime, Integer, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.answers import AnswerRecord, Feedback
from bot.store.base import WORKSPACE_ID, Base, Store
from bot.store.claims import claim

__all__ = ["GapQuestion", "GapReportRecord", "GapStore"]

# Why a question is in the report.
NOT_COVERED, THUMBS_DOWN, LOW_CONFIDENCE, FLAGGED = "not_covered", "thumbs_down", "low", "flagged"


class GapReportRecord(Base):
    """One owner's report for one period: claimed (with a lease), then posted or skipped."""

    __tablename__ = "gap_reports"
    __table_args__ = (
        UniqueConstraint("team_id", "owner_id", "period_key", name="uq_gap_reports_period"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(WORKSPACE_ID)
    owner_id: Mapped[str] = mapped_column(String(32))
    period_key: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # "claimed" | "posted" | "empty"
    claimed_by: Mapped[str] = mapped_column(String(64))
    lease_expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    groups: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    message_ts: Mapped[str | None] = mapped_column(String(32))
    posted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class GapQuestion:
    question: str
    asker: str  # used only to count distinct askers; never shown
    reasons: frozenset[str]
    sections: tuple[str, ...]
    confidence: float | None


class GapStore(Store):
    def questions(
        self, *, team_id: str, start: dt.datetime, end: dt.datetime, low_confidence: float
    ) -> list[GapQuestion]:
        """Questions asked in [start, end) in this workspace that were not covered, answered
        with low confidence, voted 👎, or flagged as a gap."""
        votes = (
            select(
                Feedback.answer_id,
                func.min(Feedback.vote).label("worst"),
                func.sum(func.abs(Feedback.vote) - 1).label("flags"),  # vote 0 -> -1 each
            )
            .where(Feedback.team_id == team_id)
            .group_by(Feedback.answer_id)
            .subquery()
        )
        with self.session() as session:
            rows = session.execute(
                select(AnswerRecord, votes.c.worst, votes.c.flags)
                .outerjoin(votes, votes.c.answer_id == AnswerRecord.id)
                .where(
                    AnswerRecord.team_id == team_id,
                    AnswerRecord.created_at >= start,
                    AnswerRecord.created_at < end,
                )
                .order_by(AnswerRecord.id)
            ).all()
        found = []
        for record, worst, flags in rows:
            reasons = set()
            if not record.answered:
                reasons.add(NOT_COVERED)
            elif record.confidence is not None and record.confidence < low_confidence:
                reasons.add(LOW_CONFIDENCE)
            if worst is not None and worst < 0:
                reasons.add(THUMBS_DOWN)
            if flags is not None and flags < 0:
                reasons.add(FLAGGED)
            if reasons:
                found.append(
                    GapQuestion(
                        question=record.question,
                        asker=record.user_id,
                        reasons=frozenset(reasons),
                        sections=tuple(json.loads(record.sections_json or "[]")),
                        confidence=record.confidence,
                    )
                )
        return found

    def popular_answered(
        self, *, team_id: str, since: dt.datetime, min_askers: int = 2, limit: int = 2
    ) -> list[str]:
        """Answered questions that several people asked in the same words (case aside), most
        asked first, and none that someone voted 👎."""
        disliked = select(Feedback.answer_id).where(Feedback.team_id == team_id, Feedback.vote < 0)
        key = func.lower(AnswerRecord.question)
        with self.session() as session:
            rows = session.execute(
                select(
                    func.min(AnswerRecord.question), func.count(func.distinct(AnswerRecord.user_id))
                )
                .where(
                    AnswerRecord.team_id == team_id,
                    AnswerRecord.answered,
                    AnswerRecord.created_at >= since,
                    AnswerRecord.id.not_in(disliked),
                )
                .group_by(key)
                .having(func.count(func.distinct(AnswerRecord.user_id)) >= min_askers)
                .order_by(func.count(func.distinct(AnswerRecord.user_id)).desc(), key)
                .limit(limit)
            ).all()
        return [str(question) for question, _ in rows]

    def report_record(
        self, *, team_id: str, owner_id: str, period_key: str
    ) -> GapReportRecord | None:
        with self.session() as session:
            return session.scalars(
                select(GapReportRecord).where(
                    GapReportRecord.team_id == team_id,
                    GapReportRecord.owner_id == owner_id,
                    GapReportRecord.period_key == period_key,
                )
            ).first()

    def claim_report(
        self,
        *,
        team_id: str,
        owner_id: str,
        period_key: str,
        worker: str,
        now: dt.datetime,
        lease: dt.timedelta,
    ) -> int | None:
        return claim(
            self.session,
            GapReportRecord,
            keys={"team_id": team_id, "owner_id": owner_id, "period_key": period_key},
            worker=worker,
            now=now,
            lease=lease,
        )

    def complete_report(
        self,
        *,
        report_id: int,
        worker: str,
        status: str,
        groups: int,
        message_ts: str | None,
        now: dt.datetime,
    ) -> bool:
        with self.session() as session:
            record = session.get(GapReportRecord, report_id)
            if record is None or record.claimed_by != worker:
                return False
            record.status, record.groups, record.message_ts = status, groups, message_ts
            record.posted_at = now
            return True
