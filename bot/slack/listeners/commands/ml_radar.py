"""/ml-radar on|off|status: opt-in private nudges when a message risks a pitfall."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack

from bot.slack.deps import BotDeps
from bot.slack.workspaces import team_of


def make_ml_radar_handler(deps: BotDeps) -> Callable[..., None]:
    def handle_ml_radar(ack: Ack, command: dict[str, Any], context: Any) -> None:
        action = (command.get("text") or "").strip().lower()
        channel, user, team = command["channel_id"], command["user_id"], team_of(context)
        if action in ("on", "off"):
            deps.storage.radar.set_radar(
                team_id=team, channel_id=channel, enabled=action == "on", user_id=user
            )
            text = (
                "Radar on: when a message here risks an ML pitfall, its author gets a private "
                "heads-up (at most one per pitfall per day)."
                if action == "on"
                else "Radar off: I no longer read this channel's messages for pitfalls."
            )
        elif action in ("", "status"):
            state = (
                "on"
                if deps.storage.radar.radar_enabled(team_id=team, channel_id=channel)
                else "off"
            )
            text = f"Radar is {state} in this channel. Use `/ml-radar on` or `/ml-radar off`."
        else:
            text = "Usage: `/ml-radar on`, `/ml-radar off` or `/ml-radar status`."
        ack(text=text, response_type="ephemeral")

    return handle_ml_radar
