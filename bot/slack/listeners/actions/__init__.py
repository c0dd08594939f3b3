from __future__ import annotations

from slack_bolt import App

from bot.slack.blocks import (
    ANSWER_FEEDBACK,
    CHECKLIST_SHARE,
    CHECKLIST_TICK,
    FEEDBACK_DOWN,
    FEEDBACK_UP,
    FLAG_GAP,
)
from bot.slack.deps import BotDeps
from bot.slack.listeners.actions.answer_feedback import make_feedback_handler
from bot.slack.listeners.actions.checklist_share import make_checklist_share_handler
from bot.slack.listeners.actions.checklist_tick import make_checklist_tick_handler
from bot.store import GAP_FLAG


def register(app: App, deps: BotDeps) -> None:
    app.action(ANSWER_FEEDBACK)(make_feedback_handler(deps))
    app.action(FLAG_GAP)(make_feedback_handler(deps, vote=GAP_FLAG))
    app.action(FEEDBACK_UP)(make_feedback_handler(deps, vote=1))
    app.action(FEEDBACK_DOWN)(make_feedback_handler(deps, vote=-1))
    app.action(CHECKLIST_TICK)(make_checklist_tick_handler(deps))
    app.action(CHECKLIST_SHARE)(make_checklist_share_handler(deps))
