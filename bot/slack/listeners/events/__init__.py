from __future__ import annotations

from slack_bolt import App

from bot.slack.deps import BotDeps
from bot.slack.listeners.events.app_home import make_app_home_handler
from bot.slack.listeners.events.app_mention import make_app_mention_handler
from bot.slack.listeners.events.message import make_message_handler


def register(app: App, deps: BotDeps) -> None:
    app.event("app_mention")(make_app_mention_handler(deps))
    app.event("message")(make_message_handler(deps))
    app.event("app_home_opened")(make_app_home_handler(deps))
