from __future__ import annotations

from slack_bolt import App

from bot.slack.deps import BotDeps
from bot.slack.listeners.commands.ml_checklist import make_ml_checklist_handler
from bot.slack.listeners.commands.ml_digest import make_ml_digest_handlers
from bot.slack.listeners.commands.ml_gaps import make_ml_gaps_handlers
from bot.slack.listeners.commands.ml_pitfalls import make_ml_pitfalls_handlers
from bot.slack.listeners.commands.ml_radar import make_ml_radar_handler


def register(app: App, deps: BotDeps) -> None:
    app.command("/ml-checklist")(make_ml_checklist_handler(deps))
    ack, lazy = make_ml_pitfalls_handlers(deps)
    app.command("/ml-pitfalls")(ack=ack, lazy=[lazy])
    digest_ack, digest_work = make_ml_digest_handlers(deps)
    app.command("/ml-digest")(ack=digest_ack, lazy=[digest_work])
    app.command("/ml-radar")(make_ml_radar_handler(deps))
    gaps_ack, gaps_report = make_ml_gaps_handlers(deps, default_days=deps.gap_report_days)
    app.command("/ml-gaps")(ack=gaps_ack, lazy=[gaps_report])
