"""@mentions: answer in the thread of the message; inside a thread the bot answered, a follow-up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient

from bot.slack.deps import BotDeps
from bot.slack.replies import JOB_KEY, answer_later
from bot.slack.text import slack_to_plain
from bot.slack.workspaces import team_of


def make_app_mention_handler(deps: BotDeps) -> Callable[..., None]:
    def handle_app_mention(
        event: dict[str, Any], client: WebClient, context: Any, body: dict[str, Any]
    ) -> None:
        if event.get("bot_id") or event.get("subtype"):
            return
        channel, team = event["channel"], team_of(context)
        thread_ts = event.get("thread_ts") or event["ts"]
        earlier = (
            deps.storage.answers.thread_question(
                team_id=team, channel_id=channel, thread_ts=event["thread_ts"]
            )
            if event.get("thread_ts")
            else None
        )
        # Answered on the reply pool: this Bolt thread is free for other acks at once.
        answer_later(
            deps=deps,
            client=client,
            job=context.get(JOB_KEY),
            team_id=team,
            channel=channel,
            user=event.get("user", ""),
            question=slack_to_plain(event.get("text", ""), bot_user_id=context.bot_user_id),
            thread_ts=thread_ts,
            context=earlier,
        )

    return handle_app_mention
