"""/ml-digest subscribe [daily|weekly] [HH:MM] | unsubscribe | status | preview"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.digests import CADENCES, Schedule, ScheduleError, parse_at
from bot.slack.blocks import digest_message, error_message, escape
from bot.slack.channels import SlackChannels
from bot.slack.deps import BotDeps
from bot.slack.permissions import may_change, refusal
from bot.slack.replies import FAILURE_TEXT
from bot.slack.workspaces import team_of

log = logging.getLogger(__name__)

USAGE = (
    "Usage: `/ml-digest subscribe [daily|weekly] [HH:MM]`, `/ml-digest unsubscribe`, "
    "`/ml-digest status` or `/ml-digest preview`."
)
_SLOW = {"subscribe", "preview"}


def parse_subscribe(words: list[str]) -> tuple[str, str]:
    """``["daily", "8:30"]`` -> ("daily", "08:30"), in any order, with defaults."""
    cadence, at_time = "weekly", "09:00"
    for word in words:
        if word.lower() in CADENCES:
            cadence = word.lower()
        else:
            at_time = parse_at(word)
    return cadence, at_time


def make_ml_digest_handlers(deps: BotDeps) -> tuple[Callable[..., None], Callable[..., None]]:
    digests = deps.digests

    def owned_elsewhere(client: WebClient, team: str, channel: str, user: str) -> str | None:
        """Who set up this channel's digest, when that is not ``user`` (nor may they change
        it, as an admin could)."""
        sub = deps.storage.digests.subscription(team_id=team, channel_id=channel)
        if sub is None or not sub.active or may_change(client, owner=sub.created_by, user=user):
            return None
        return sub.created_by

    def ack_ml_digest(ack: Ack, command: dict[str, Any], context: Any, client: WebClient) -> None:
        words = (command.get("text") or "").split()
        action = words[0].lower() if words else ""
        channel, team = command["channel_id"], team_of(context)
        if action in _SLOW:
            if action == "subscribe":
                try:
                    parse_subscribe(words[1:])
                except ScheduleError as exc:
                    ack(text=f"{escape(str(exc))}. {USAGE}", response_type="ephemeral")
                    return
            ack(text=":hourglass_flowing_sand: One moment…", response_type="ephemeral")
            return
        if action == "unsubscribe":
            owner = owned_elsewhere(client, team, channel, command["user_id"])
            if owner is not None:
                ack(text=refusal("this channel's digest", owner), response_type="ephemeral")
                return
            stopped = deps.storage.digests.deactivate_subscription(team_id=team, channel_id=channel)
            text = (
                "Unsubscribed: no more digests here."
                if stopped
                else "This channel had no digest subscription."
            )
            ack(text=text, response_type="ephemeral")
            return
        if action == "status":
            ack(text=status_text(deps, team, channel), response_type="ephemeral")
            return
        ack(text=USAGE, response_type="ephemeral")

    def work_ml_digest(
        command: dict[str, Any], respond: Respond, client: WebClient, context: Any
    ) -> None:
        words = (command.get("text") or "").split()
        action = words[0].lower() if words else ""
        if action not in _SLOW:
            return
        channel, user, team = command["channel_id"], command["user_id"], team_of(context)
        try:
            if action == "subscribe":
                owner = owned_elsewhere(client, team, channel, user)
                if owner is not None:
                    respond(text=refusal("this channel's digest", owner), response_type="ephemeral")
                    return
                cadence, at_time = parse_subscribe(words[1:])
                _, schedule = digests.subscribe(
                    team_id=team,
                    channel_id=channel,
                    user_id=user,
                    cadence=cadence,
                    at_time=at_time,
                    tz=digests.user_tz(user, channels=SlackChannels(client)),
                )
                first = schedule.next_run(dt.datetime.now(dt.UTC))
                respond(
                    text=(
                        f"Subscribed: a pitfalls digest {schedule.describe()}. The first one, "
                        f"<!date^{int(first.timestamp())}^{{date_short_pretty}} at {{time}}|"
                        f"{first:%Y-%m-%d %H:%M} UTC>, covers the last "
                        f"{'day' if schedule.cadence == 'daily' else 'week'}."
                    ),
                    response_type="ephemeral",
                )
            else:
                digest = digests.preview(
                    team_id=team, channel_id=channel, channels=SlackChannels(client)
                )
                respond(**digest_message(digest), response_type="ephemeral")
        except SlackApiError as exc:
            error = exc.response.get("error", "")
            log.warning("/ml-digest %s failed in %s: %s", action, channel, error)
            text = (
                "I can't read this channel yet. Invite me with `/invite @ML Leaders Bot`."
                if error in ("not_in_channel", "channel_not_found")
                else FAILURE_TEXT
            )
            respond(**error_message(text), response_type="ephemeral")
        except Exception:
            log.exception("/ml-digest %s failed", action)
            respond(**error_message(FAILURE_TEXT), response_type="ephemeral")

    return ack_ml_digest, work_ml_digest


def status_text(deps: BotDeps, team: str, channel: str) -> str:
    sub = deps.storage.digests.subscription(team_id=team, channel_id=channel)
    if sub is None or not sub.active:
        return "No digest here yet. `/ml-digest subscribe` starts a weekly one (Mondays 09:00)."
    schedule = Schedule.of(sub)
    nxt = schedule.next_run(dt.datetime.now(dt.UTC))
    last = deps.storage.digests.last_posted(sub.id)
    last_text = f"last one for the period ending {last.period_key}" if last else "none sent yet"
    return (
        f"Digest {schedule.describe()}, set up by <@{sub.created_by}>; "
        f"next <!date^{int(nxt.timestamp())}^{{date_short_pretty}} "
        f"at {{time}}|{nxt:%Y-%m-%d %H:%M} UTC>; {last_text}."
    )
