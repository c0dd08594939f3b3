from __future__ import annotations

from slack_bolt import App

from bot.deps import BotDeps
from bot.listeners.commands.ml_checklist import make_ml_checklist_handler
from bot.listeners.commands.ml_pitfalls import make_ml_pitfalls_handlers


def register(app: App, deps: BotDeps) -> None:
    app.command("/ml-checklist")(make_ml_checklist_handler(deps))
    ack, lazy = make_ml_pitfalls_handlers(deps)
    app.command("/ml-pitfalls")(ack=ack, lazy=[lazy])
