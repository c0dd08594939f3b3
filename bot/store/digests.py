"""Digest subscriptions and their exactly-once deliveries."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.base import WORKSPACE_ID, Base, Store, _now
from bot.store.claims import claim


class DigestSubscription(Base):
    """A channel's digest schedule, and where the pitfall rotation stands."""

    __tablename__ = "digest_subscriptions"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", name="uq_digest_subscriptions_team_channel"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(WORKSPACE_ID)
    channel_id: Mapped[str] = mapped_column(String(32))
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
    team_id: Mapped[str] = mapped_column(WORKSPACE_ID)
    period_key: Mapped[str] = mapped_column(String(32))  # the period's end, UTC ISO
    status: Mapped[str] = mapped_column(String(16))  # "claimed" | "posted"
    claimed_by: Mapped[str] = mapped_column(String(64))
    lease_expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    posted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class DigestStore(Store):
    """Digest schedules and delivery claims."""

    def upsert_subscription(
        self,
        *,
        team_id: str,
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
                select(DigestSubscription).where(
                    DigestSubscription.team_id == team_id,
                    DigestSubscription.channel_id == channel_id,
                )
            ).first()
            if sub is None:
                sub = DigestSubscription(
                    team_id=team_id, channel_id=channel_id, shown_pitfalls="[]", created_at=now
                )
                session.add(sub)
            elif not sub.active:
                sub.created_at = now  # a fresh start covers one period back from now
            sub.cadence, sub.at_time, sub.weekday, sub.tz = cadence, at_time, weekday, tz
            sub.created_by, sub.active, sub.updated_at = created_by, True, now
            session.flush()
            return sub

    def deactivate_subscription(self, *, team_id: str, channel_id: str) -> bool:
        with self.session() as session:
            result = session.execute(
                update(DigestSubscription)
                .where(
                    DigestSubscription.team_id == team_id,
                    DigestSubscription.channel_id == channel_id,
                    DigestSubscription.active,
                )
                .values(active=False, updated_at=_now())
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def deactivate_workspace(self, team_id: str) -> int:
        """Stop every digest of a workspace (it uninstalled the app); returns how many."""
        with self.session() as session:
            result = session.execute(
                update(DigestSubscription)
                .where(DigestSubscription.team_id == team_id, DigestSubscription.active)
                .values(active=False, updated_at=_now())
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def subscription(self, *, team_id: str, channel_id: str) -> DigestSubscription | None:
        with self.session() as session:
            return session.scalars(
                select(DigestSubscription).where(
                    DigestSubscription.team_id == team_id,
                    DigestSubscription.channel_id == channel_id,
                )
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

    def subscriptions_by(self, *, team_id: str, user_id: str) -> list[DigestSubscription]:
        with self.session() as session:
            return list(
                session.scalars(
                    select(DigestSubscription).where(
                        DigestSubscription.team_id == team_id,
                        DigestSubscription.created_by == user_id,
                        DigestSubscription.active,
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
        team_id: str,
        subscription_id: int,
        period_key: str,
        worker: str,
        now: dt.datetime,
        lease: dt.timedelta,
    ) -> int | None:
        """Claim the right to post one period's digest; None if someone else holds or did it
        (see :func:`bot.store.claims.claim`)."""
        return claim(
            self.session,
            DigestDelivery,
            keys={
                "team_id": team_id,
                "subscription_id": subscription_id,
                "period_key": period_key,
            },
            worker=worker,
            now=now,
            lease=lease,
        )

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
