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
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

__all__ = [
    "Base",
    "DigestDelivery",
    "DigestSubscription",
    "GAP_FLAG",
    "Storage",
    "as_utc",
    "make_engine",
]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; everything is stored in UTC, so say so."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


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


# Feedback votes: 1 helpful, -1 not helpful, 0 a gap flagged on a "not covered" reply.
GAP_FLAG = 0


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


class DigestSubscription(Base):
    """A channel's digest schedule, and where the pitfall rotation stands."""

    __tablename__ = "digest_subscriptions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel_id: Mapped[str] = mapped_column(String(32), unique=True)
    cadence: Mapped[str] = mapped_column(String(16))  # "daily" | "weekly"
    at_time: Mapped[str] = mapped_column(String(5))  # "HH:MM", local to tz
    weekday: Mapped[int] = mapped_column(SmallInteger, default=0)  # Monday = 0 (weekly only)
    tz: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    shown_pitfalls: Mapped[str] = mapped_column(Text, default="[]")  # JSON list, rotation
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class DigestDelivery(Base):
    """One digest for one period: claimed (with a lease) before posting, then marked posted."""

    __tablename__ = "digest_deliveries"
    __table_args__ = (UniqueConstraint("subscription_id", "period_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("digest_subscriptions.id", ondelete="CASCADE")
    )
    period_key: Mapped[str] = mapped_column(String(32))  # the period's end, UTC ISO
    status: Mapped[str] = mapped_column(String(16))  # "claimed" | "posted"
    claimed_by: Mapped[str] = mapped_column(String(64))
    lease_expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    posted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class RadarSetting(Base):
    __tablename__ = "radar_settings"
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    updated_by: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class RadarNudge(Base):
    """At most one nudge per pitfall per channel per day: the primary key is the guarantee."""

    __tablename__ = "radar_nudges"
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    pitfall_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # UTC date, ISO
    user_id: Mapped[str] = mapped_column(String(32))
    message_ts: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


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
            # With WAL, NORMAL never corrupts the database and skips an fsync per commit (the
            # event-id claim is a write on every Slack request).
            cursor.execute("PRAGMA synchronous=NORMAL")
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
    def from_url(cls, url: str, *, migrate: bool = True) -> Storage:
        """Connect, bringing the schema up to date first (``mlbot db upgrade`` does the same)."""
        storage = cls(make_engine(url))
        if migrate:
            from bot.migrate import upgrade

            upgrade(storage.engine)
        return storage

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # Events -----------------------------------------------------------------------------------
    def claim_event(self, event_id: str) -> bool:
        """True the first time an event id is seen; False for any redelivery."""
        # A Core insert: this runs before every event is acknowledged, and the ORM's unit of
        # work costs several times more for one row.
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(ProcessedEvent).values(event_id=event_id))
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

    # Digests --------------------------------------------------------------------------------
    def upsert_subscription(
        self,
        *,
        channel_id: str,
        cadence: str,
        at_time: str,
        weekday: int,
        tz: str,
        created_by: str,
        now: dt.datetime,
    ) -> DigestSubscription:
        """Subscribe a channel, or change its schedule (the rotation is kept)."""
        with self.session() as session:
            sub = session.scalars(
                select(DigestSubscription).where(DigestSubscription.channel_id == channel_id)
            ).first()
            if sub is None:
                sub = DigestSubscription(channel_id=channel_id, shown_pitfalls="[]", created_at=now)
                session.add(sub)
            elif not sub.active:
                sub.created_at = now  # a fresh start covers one period back from now
            sub.cadence, sub.at_time, sub.weekday, sub.tz = cadence, at_time, weekday, tz
            sub.created_by, sub.active, sub.updated_at = created_by, True, now
            session.flush()
            return sub

    def deactivate_subscription(self, channel_id: str) -> bool:
        with self.session() as session:
            result = session.execute(
                update(DigestSubscription)
                .where(DigestSubscription.channel_id == channel_id, DigestSubscription.active)
                .values(active=False, updated_at=_now())
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def subscription(self, channel_id: str) -> DigestSubscription | None:
        with self.session() as session:
            return session.scalars(
                select(DigestSubscription).where(DigestSubscription.channel_id == channel_id)
            ).first()

    def active_subscriptions(self) -> list[DigestSubscription]:
        with self.session() as session:
            return list(
                session.scalars(
                    select(DigestSubscription)
                    .where(DigestSubscription.active)
                    .order_by(DigestSubscription.id)
                )
            )

    def subscriptions_by(self, user_id: str) -> list[DigestSubscription]:
        with self.session() as session:
            return list(
                session.scalars(
                    select(DigestSubscription).where(
                        DigestSubscription.created_by == user_id, DigestSubscription.active
                    )
                )
            )

    def delivery(self, subscription_id: int, period_key: str) -> DigestDelivery | None:
        with self.session() as session:
            return session.scalars(
                select(DigestDelivery).where(
                    DigestDelivery.subscription_id == subscription_id,
                    DigestDelivery.period_key == period_key,
                )
            ).first()

    def last_posted(self, subscription_id: int) -> DigestDelivery | None:
        with self.session() as session:
            return session.scalars(
                select(DigestDelivery)
                .where(
                    DigestDelivery.subscription_id == subscription_id,
                    DigestDelivery.status == "posted",
                )
                .order_by(DigestDelivery.posted_at.desc())
                .limit(1)
            ).first()

    def claim_delivery(
        self,
        *,
        subscription_id: int,
        period_key: str,
        worker: str,
        now: dt.datetime,
        lease: dt.timedelta,
    ) -> int | None:
        """Claim the right to post one period's digest; None if someone else holds or did it.

        The unique (subscription, period) row makes the first claim win; a claim whose lease
        ran out (its process died before posting) can be taken over by exactly one other.
        """
        expires = now + lease
        try:
            with self.session() as session:
                row = DigestDelivery(
                    subscription_id=subscription_id,
                    period_key=period_key,
                    status="claimed",
                    claimed_by=worker,
                    lease_expires_at=expires,
                )
                session.add(row)
                session.flush()
                return row.id
        except IntegrityError:
            pass
        with self.session() as session:
            result = session.execute(
                update(DigestDelivery)
                .where(
                    DigestDelivery.subscription_id == subscription_id,
                    DigestDelivery.period_key == period_key,
                    DigestDelivery.status == "claimed",
                    DigestDelivery.lease_expires_at < now,
                )
                .values(claimed_by=worker, lease_expires_at=expires)
                .returning(DigestDelivery.id)
            )
            taken = result.scalars().first()
            return int(taken) if taken is not None else None

    def complete_delivery(
        self,
        *,
        delivery_id: int,
        worker: str,
        message_ts: str,
        shown_pitfalls: list[str],
        now: dt.datetime,
    ) -> bool:
        """Record the posted message and advance the rotation; False if the claim was lost."""
        with self.session() as session:
            delivery = session.get(DigestDelivery, delivery_id)
            if delivery is None or delivery.claimed_by != worker:
                return False
            delivery.status, delivery.message_ts, delivery.posted_at = "posted", message_ts, now
            sub = session.get(DigestSubscription, delivery.subscription_id)
            if sub is not None:
                sub.shown_pitfalls = json.dumps(shown_pitfalls)
            return True

    # Radar ----------------------------------------------------------------------------------
    def set_radar(self, *, channel_id: str, enabled: bool, user_id: str) -> None:
        with self.session() as session:
            setting = session.get(RadarSetting, channel_id)
            if setting is None:
                session.add(
                    RadarSetting(channel_id=channel_id, enabled=enabled, updated_by=user_id)
                )
            else:
                setting.enabled, setting.updated_by, setting.updated_at = enabled, user_id, _now()

    def radar_enabled(self, channel_id: str) -> bool:
        with self.session() as session:
            setting = session.get(RadarSetting, channel_id)
            return bool(setting and setting.enabled)

    def claim_nudge(
        self, *, channel_id: str, pitfall_id: str, day: str, user_id: str, message_ts: str
    ) -> bool:
        """True if no nudge for this pitfall was sent in this channel on this day yet."""
        try:
            with self.session() as session:
                session.add(
                    RadarNudge(
                        channel_id=channel_id,
                        pitfall_id=pitfall_id,
                        day=day,
                        user_id=user_id,
                        message_ts=message_ts,
                    )
                )
        except IntegrityError:
            return False
        return True

    def checklist_progress(self, user_id: str) -> list[tuple[str, str, int]]:
        """(channel, checklist, ticked items) for a person, for the App Home."""
        with self.session() as session:
            rows = session.execute(
                select(ChecklistTick.channel_id, ChecklistTick.checklist_id, ChecklistTick.item_id)
                .where(ChecklistTick.user_id == user_id, ChecklistTick.ticked.is_(True))
                .order_by(ChecklistTick.channel_id, ChecklistTick.checklist_id)
            )
            counts: dict[tuple[str, str], int] = {}
            for channel, checklist, _item in rows:
                counts[(channel, checklist)] = counts.get((channel, checklist), 0) + 1
            return [(c, k, n) for (c, k), n in counts.items()]
