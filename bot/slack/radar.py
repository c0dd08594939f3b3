"""The opt-in pitfall radar: a private nudge when a channel message risks a pitfall."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.blocks import radar_nudge_message
from bot.slack.deps import BotDeps

__all__ = ["radar_check"]

log = logging.getLogger(__name__)


def radar_check(
    deps: BotDeps, client: WebClient, event: dict[str, Any], team_id: str
) -> str | None:
    """Nudge the author about the most likely new pitfall; returns its id when a nudge went out.

    Only high-confidence matches count, and each pitfall is mentioned at most once per channel
    per (UTC) day: the database row claimed first is the guarantee, across processes.
    """
    text = str(event.get("text") or "")
    if not text.strip():
        return None
    channel, user = event["channel"], event["user"]
    day = dt.datetime.now(dt.UTC).date().isoformat()
    for match in deps.work.run(deps.detector.detect, text):
        if match.score < deps.radar_threshold:
            break
        if not deps.storage.radar.claim_nudge(
            team_id=team_id,
            channel_id=channel,
            pitfall_id=match.pitfall.id,
            day=day,
            user_id=user,
            message_ts=str(event.get("ts", "")),
        ):
            continue
        try:
            client.chat_postEphemeral(channel=channel, user=user, **radar_nudge_message(match))
        except SlackApiError as exc:
            log.warning("radar nudge in %s failed: %s", channel, exc.response.get("error"))
        return match.pitfall.id
    return None
