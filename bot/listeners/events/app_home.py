"""The App Home tab: how to ask, the person's checklist progress and digest subscriptions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient

from bot.blocks import home_view
from bot.deps import BotDeps
from bot.digests import Schedule


def make_app_home_handler(deps: BotDeps) -> Callable[..., None]:
    def handle_app_home_opened(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        user = event["user"]
        checklists = deps.services.checklists
        progress = []
        for channel, checklist_id, done in deps.storage.checklist_progress(user):
            checklist = checklists.get(checklist_id)
            if checklist is not None:
                progress.append((channel, checklist.title, done, len(checklist.all_items())))
        subscriptions = [
            (sub.channel_id, Schedule.of(sub).describe())
            for sub in deps.storage.subscriptions_by(user)
        ]
        client.views_publish(
            user_id=user, view=home_view(progress=progress, subscriptions=subscriptions)
        )

    return handle_app_home_opened
