"""Wire every listener kind to the app; each kind's ``register`` only maps ids to handlers."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.deps import BotDeps
from bot.slack.listeners import actions, assistant, commands, events

__all__ = ["register_listeners"]


def register_listeners(app: App, deps: BotDeps) -> None:
    assistant.register(app, deps)  # before `message`: it takes the DM threads
    events.register(app, deps)
    commands.register(app, deps)
    actions.register(app, deps)
