"""Checklist ticks, per workspace, person and channel."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, String, select
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.base import WORKSPACE_ID, Base, Store, _now


class ChecklistTick(Base):
    """One person's tick on one checklist item, per channel."""

    __tablename__ = "checklist_ticks"
    team_id: Mapped[str] = mapped_column(WORKSPACE_ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    checklist_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticked: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ChecklistStore(Store):
    """Checklist ticks."""

    def set_tick(
        self,
        *,
        team_id: str,
        user_id: str,
        channel_id: str,
        checklist_id: str,
        item_id: str,
        ticked: bool,
    ) -> None:
        with self.session() as session:
            key = (team_id, user_id, channel_id, checklist_id, item_id)
            tick = session.get(ChecklistTick, key)
            if tick is None:
                session.add(
                    ChecklistTick(
                        team_id=team_id,
                        user_id=user_id,
                        channel_id=channel_id,
                        checklist_id=checklist_id,
                        item_id=item_id,
                        ticked=ticked,
                    )
                )
            else:
                tick.ticked, tick.updated_at = ticked, _now()

    def ticked_items(
        self, *, team_id: str, user_id: str, channel_id: str, checklist_id: str
    ) -> set[str]:
        with self.session() as session:
            return set(
                session.scalars(
                    select(ChecklistTick.item_id).where(
                        ChecklistTick.team_id == team_id,
                        ChecklistTick.user_id == user_id,
                        ChecklistTick.channel_id == channel_id,
                        ChecklistTick.checklist_id == checklist_id,
                        ChecklistTick.ticked.is_(True),
                    )
                )
            )

    def checklist_progress(self, *, team_id: str, user_id: str) -> list[tuple[str, str, int]]:
        """(channel, checklist, ticked items) for a person, for the App Home."""
        with self.session() as session:
            rows = session.execute(
                select(ChecklistTick.channel_id, ChecklistTick.checklist_id, ChecklistTick.item_id)
                .where(
                    ChecklistTick.team_id == team_id,
                    ChecklistTick.user_id == user_id,
                    ChecklistTick.ticked.is_(True),
                )
                .order_by(ChecklistTick.channel_id, ChecklistTick.checklist_id)
            )
            counts: dict[tuple[str, str], int] = {}
            for channel, checklist, _item in rows:
                counts[(channel, checklist)] = counts.get((channel, checklist), 0) + 1
            return [(c, k, n) for (c, k), n in counts.items()]
