"""Messages: every DM is a question; in channels, a reply in a thread the bot answered is a
follow-up (mentions there are left to the app_mention handler, so nothing is answered twice)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient

from bot.slack.deps import BotDeps
from bot.slack.radar import radar_check
from bot.slack.replies import JOB_KEY, QUESTION_SUBTYPES, answer_later, decline
from bot.slack.text import mentions_user, slack_to_plain
from bot.slack.workspaces import team_of
from bot.work import cost_of


def make_message_handler(deps: BotDeps) -> Callable[..., None]:
    def handle_message(
        event: dict[str, Any], client: WebClient, context: Any, body: dict[str, Any]
    ) -> None:
        if event.get("bot_id") or event.get("subtype") not in QUESTION_SUBTYPES:
            return
        if not event.get("user") or event.get("user") == context.bot_user_id:
            return
        channel, team = event["channel"], team_of(context)
        text = event.get("text", "")
        thread_ts = event.get("thread_ts")
        earlier = (
            deps.storage.answers.thread_question(
                team_id=team, channel_id=channel, thread_ts=thread_ts
            )
            if thread_ts
            else None
        )
        is_question = earlier is not None or mentions_user(text, context.bot_user_id)
        if event.get("channel_type") != "im" and not is_question:
            # Radar off means the text is not even looked at.
            if deps.storage.radar.radar_enabled(team_id=team, channel_id=channel):
                deps.work.background(
                    radar_check,
                    deps,
                    client,
                    event,
                    team,
                    owner=f"{team}:{event['user']}",
                    cost=cost_of(text),
                )
            return
        # In a channel only follow-ups in the bot's threads count, and not those that mention
        # the bot: app_mention answers those.
        if event.get("channel_type") != "im" and (
            earlier is None or mentions_user(text, context.bot_user_id)
        ):
            decline(deps, context)
            return
        # Answered on the reply pool: this Bolt thread is free for other acks at once.
        answer_later(
            deps=deps,
            client=client,
            job=context.get(JOB_KEY),
            team_id=team,
            channel=channel,
            user=event["user"],
            question=slack_to_plain(text, bot_user_id=context.bot_user_id),
            thread_ts=thread_ts,
            context=earlier,
        )

    return handle_message
