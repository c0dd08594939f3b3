"""Radar settings and the nudges sent, per workspace and channel."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, String, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.base import WORKSPACE_ID, Base, Store, _now


class RadarSetting(Base):
    __tablename__ = "radar_settings"
    team_id: Mapped[str] = mapped_column(WORKSPACE_ID, primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    updated_by: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class RadarNudge(Base):
    """At most one nudge per pitfall per channel per day: the primary key is the guarantee."""

    __tablename__ = "radar_nudges"
    team_id: Mapped[str] = mapped_column(WORKSPACE_ID, primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    pitfall_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # UTC date, ISO
    user_id: Mapped[str] = mapped_column(String(32))
    message_ts: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class RadarStore(Store):
    """Radar settings and nudge claims."""

    def set_radar(self, *, team_id: str, channel_id: str, enabled: bool, user_id: str) -> None:
        with self.session() as session:
            setting = session.get(RadarSetting, (team_id, channel_id))
            if setting is None:
                session.add(
                    RadarSetting(
                        team_id=team_id, channel_id=channel_id, enabled=enabled, updated_by=user_id
                    )
                )
            else:
                setting.enabled, setting.updated_by, setting.updated_at = enabled, user_id, _now()

    def setting(self, *, team_id: str, channel_id: str) -> RadarSetting | None:
        with self.session() as session:
            return session.get(RadarSetting, (team_id, channel_id))

    def radar_enabled(self, *, team_id: str, channel_id: str) -> bool:
        with self.session() as session:
            setting = session.get(RadarSetting, (team_id, channel_id))
            return bool(setting and setting.enabled)

    def switch_off_workspace(self, team_id: str) -> int:
        """Radar off in every channel of a workspace (it uninstalled the app)."""
        with self.session() as session:
            result = session.execute(
                update(RadarSetting)
                .where(RadarSetting.team_id == team_id, RadarSetting.enabled)
                .values(enabled=False, updated_at=_now())
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def claim_nudge(
        self,
        *,
        team_id: str,
        channel_id: str,
        pitfall_id: str,
        day: str,
        user_id: str,
        message_ts: str,
    ) -> bool:
        """True if no nudge for this pitfall was sent in this channel on this day yet."""
        try:
            with self.session() as session:
                session.add(
                    RadarNudge(
                        team_id=team_id,
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
