"""App Home: the Home tab (how to ask, the person's checklist progress and digest
subscriptions), and the Messages tab's suggested prompts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.digests import Schedule
from bot.slack.blocks import home_view
from bot.slack.deps import BotDeps
from bot.slack.listeners.assistant import PROMPTS_TITLE, prompt_objects
from bot.slack.workspaces import team_of

log = logging.getLogger(__name__)


def make_app_home_handler(deps: BotDeps) -> Callable[..., None]:
    def handle_app_home_opened(event: dict[str, Any], client: WebClient, context: Any) -> None:
        if event.get("tab") == "messages":
            # Prompts for the Messages tab itself: no thread_ts.
            try:
                client.assistant_threads_setSuggestedPrompts(
                    channel_id=event["channel"],
                    title=PROMPTS_TITLE,
                    prompts=prompt_objects(deps, team_of(context)),
                )
            except SlackApiError as exc:
                log.warning("could not set the Messages tab prompts: %s", exc.response.get("error"))
            return
        if event.get("tab", "home") != "home":
            return
        user, team = event["user"], team_of(context)
        checklists = deps.services.checklists
        progress = []
        for channel, checklist_id, done in deps.storage.checklists.checklist_progress(
            team_id=team, user_id=user
        ):
            checklist = checklists.get(checklist_id)
            if checklist is not None:
                progress.append((channel, checklist.title, done, len(checklist.all_items())))
        subscriptions = [
            (sub.channel_id, Schedule.of(sub).describe())
            for sub in deps.storage.digests.subscriptions_by(team_id=team, user_id=user)
        ]
        client.views_publish(
            user_id=user, view=home_view(progress=progress, subscriptions=subscriptions)
        )

    return handle_app_home_opened
