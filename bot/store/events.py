"""Slack event ids already handled."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import DateTime, String, delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.base import WORKSPACE_ID, Base, Store, _now


class ProcessedEvent(Base):
    """Slack event ids already handled: a retried delivery is recognised and skipped."""

    __tablename__ = "processed_events"
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(WORKSPACE_ID)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class SeenSignature(Base):
    """Signatures of Slack requests already served: a replay within Slack's five-minute
    window is recognised (rows older than that are pruned)."""

    __tablename__ = "seen_signatures"
    signature: Mapped[str] = mapped_column(String(80), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


# Slack refuses a signature older than five minutes (so do we): keep them a little longer.
SIGNATURE_MEMORY = dt.timedelta(minutes=6)
_PRUNE_EVERY = 500


class EventStore(Store):
    """Claims of Slack event ids (Slack's event ids are unique across workspaces)."""

    def claim_event(self, event_id: str, *, team_id: str) -> bool:
        """True the first time an event id is seen; False for any redelivery."""
        # A Core insert: this runs before every event is acknowledged, and the ORM's unit of
        # work costs several times more for one row.
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    insert(ProcessedEvent).values(event_id=event_id, team_id=team_id)
                )
        except IntegrityError:
            return False
        return True

    _claims = itertools.count(1)

    def claim_signature(self, signature: str, *, now: dt.datetime | None = None) -> bool:
        """True the first time a request signature is seen; False for a replay."""
        now = now or _now()
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    insert(SeenSignature).values(signature=signature[:80], seen_at=now)
                )
                if next(self._claims) % _PRUNE_EVERY == 0:
                    connection.execute(
                        delete(SeenSignature).where(SeenSignature.seen_at < now - SIGNATURE_MEMORY)
                    )
        except IntegrityError:
            return False
        return True
