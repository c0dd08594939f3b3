"""Wire every listener kind to the app; each kind's ``register`` only maps ids to handlers."""

from __future__ import annotations

from slack_bolt import App

from bot.deps import BotDeps
from bot.listeners import actions, commands, events

__all__ = ["register_listeners"]


def register_listeners(app: App, deps: BotDeps) -> None:
    events.register(app, deps)
    commands.register(app, deps)
    actions.register(app, deps)
