"""Acknowledged questions as durable jobs: recorded (with a lease) before the ack returns,
finished when the reply is posted. A process that dies leaves its jobs pending; when their
lease runs out, another pass (a restart, another process, or Slack's retry) takes them over."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, SmallInteger, String, Text, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.base import WORKSPACE_ID, Base, Store, _now

__all__ = ["EventJob", "JobStore"]


class EventJob(Base):
    __tablename__ = "event_jobs"
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(WORKSPACE_ID)
    channel_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    question: Mapped[str] = mapped_column(Text)
    context: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)  # "pending" | "done"
    attempts: Mapped[int] = mapped_column(SmallInteger, default=1)
    claimed_by: Mapped[str] = mapped_column(String(64))
    lease_expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class JobStore(Store):
    def record(
        self,
        *,
        event_id: str,
        team_id: str,
        channel_id: str,
        user_id: str,
        thread_ts: str | None,
        question: str,
        context: str | None,
        worker: str,
        lease: dt.timedelta,
    ) -> bool:
        """Record a question to answer; False if this event already has a job. A Core insert:
        it runs as the question is acknowledged, where the ORM's unit of work cost too much."""
        now = _now()
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    insert(EventJob).values(
                        event_id=event_id,
                        team_id=team_id,
                        channel_id=channel_id,
                        user_id=user_id,
                        thread_ts=thread_ts,
                        question=question,
                        context=context,
                        status="pending",
                        attempts=1,
                        claimed_by=worker,
                        lease_expires_at=now + lease,
                        created_at=now,
                    )
                )
        except IntegrityError:
            return False
        return True

    def take_over(
        self, event_id: str, *, worker: str, now: dt.datetime, lease: dt.timedelta
    ) -> EventJob | None:
        """Claim a pending job whose lease ran out (its process died); None if it is done,
        still held, or unknown. Exactly one claimant wins."""
        with self.session() as session:
            taken = session.execute(
                update(EventJob)
                .where(
                    EventJob.event_id == event_id,
                    EventJob.status == "pending",
                    EventJob.lease_expires_at < now,
                )
                .values(
                    claimed_by=worker,
                    lease_expires_at=now + lease,
                    attempts=EventJob.attempts + 1,
                )
                .returning(EventJob.event_id)
            ).first()
            return session.get(EventJob, event_id) if taken else None

    def renew(
        self, event_ids: list[str], *, worker: str, now: dt.datetime, lease: dt.timedelta
    ) -> int:
        """Extend the leases of jobs this worker still holds (queued or being answered), so
        no other process takes them over while they wait their turn."""
        if not event_ids:
            return 0
        with self.session() as session:
            result = session.execute(
                update(EventJob)
                .where(
                    EventJob.event_id.in_(event_ids),
                    EventJob.claimed_by == worker,
                    EventJob.status == "pending",
                )
                .values(lease_expires_at=now + lease)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def stalled(self, *, now: dt.datetime, limit: int = 50) -> list[str]:
        """Pending jobs whose lease ran out, oldest first."""
        with self.session() as session:
            return list(
                session.scalars(
                    select(EventJob.event_id)
                    .where(EventJob.status == "pending", EventJob.lease_expires_at < now)
                    .order_by(EventJob.created_at)
                    .limit(limit)
                )
            )

    def finish(self, event_id: str) -> None:
        with self.session() as session:
            session.execute(
                update(EventJob)
                .where(EventJob.event_id == event_id)
                .values(status="done", question="", context=None)
            )
