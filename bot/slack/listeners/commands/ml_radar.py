"""/ml-radar on|off|status: opt-in private nudges when a message risks a pitfall.

Turning it on is announced in the channel, so its members know their messages are read; only
the member who turned it on (or a workspace admin) can turn it off."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.deps import BotDeps
from bot.slack.permissions import may_change, refusal
from bot.slack.workspaces import team_of

log = logging.getLogger(__name__)

USAGE = "Usage: `/ml-radar on`, `/ml-radar off` or `/ml-radar status`."


def announcement(user: str) -> str:
    return (
        f":satellite_antenna: <@{user}> turned on the pitfall radar in this channel. I now read "
        "its messages, and when one clearly risks a common ML pitfall its author gets a private "
        "heads-up (at most one per pitfall a day). Nobody else sees the nudges. `/ml-radar off` "
        "turns it off."
    )


def make_ml_radar_handler(deps: BotDeps) -> Callable[..., None]:
    radar = deps.storage.radar

    def handle_ml_radar(ack: Ack, command: dict[str, Any], context: Any, client: WebClient) -> None:
        action = (command.get("text") or "").strip().lower()
        channel, user, team = command["channel_id"], command["user_id"], team_of(context)
        current = radar.setting(team_id=team, channel_id=channel)
        on = bool(current and current.enabled)
        owner = current.updated_by if current and current.enabled else None
        if action == "on" and on:
            text = f"Radar is already on here (turned on by <@{owner}>)."
        elif action == "on":
            try:
                client.chat_postMessage(channel=channel, text=announcement(user))
            except SlackApiError as exc:
                log.warning(
                    "radar announcement in %s failed: %s", channel, exc.response.get("error")
                )
                ack(
                    text="I couldn't announce the radar in this channel, so it stays off. "
                    "Invite me with `/invite @ML Leaders Bot`, then try again.",
                    response_type="ephemeral",
                )
                return
            radar.set_radar(team_id=team, channel_id=channel, enabled=True, user_id=user)
            text = (
                "Radar on, and announced in the channel: when a message here risks an ML "
                "pitfall, its author gets a private heads-up (at most one per pitfall per day)."
            )
        elif action == "off" and not on:
            text = "Radar is already off here."
        elif action == "off" and not may_change(client, owner=owner, user=user):
            text = refusal("the radar", str(owner))
        elif action == "off":
            radar.set_radar(team_id=team, channel_id=channel, enabled=False, user_id=user)
            text = "Radar off: I no longer read this channel's messages for pitfalls."
        elif action in ("", "status"):
            text = (
                f"Radar is on in this channel (turned on by <@{owner}>). "
                "`/ml-radar off` turns it off."
                if on
                else "Radar is off in this channel. `/ml-radar on` turns it on."
            )
        else:
            text = USAGE
        ack(text=text, response_type="ephemeral")

    return handle_ml_radar
