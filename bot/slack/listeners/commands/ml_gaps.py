"""/ml-gaps [days]: the knowledge owner's report of what people asked that the knowledge base
could not answer well. Owners only (KNOWLEDGE_OWNERS); everyone else is told politely."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, Respond

from bot.slack.blocks import error_message, gaps_message
from bot.slack.deps import BotDeps
from bot.slack.replies import FAILURE_TEXT
from bot.slack.workspaces import team_of

log = logging.getLogger(__name__)

MAX_DAYS = 365
NOT_OWNER = (
    "The gap report is for the knowledge base's owners. Ask one of them to add a document, "
    "or flag a gap on a reply that said the question wasn't covered."
)
USAGE = f"Usage: `/ml-gaps` (the last week) or `/ml-gaps DAYS` (1–{MAX_DAYS})."


def parse_days(text: str, default: int) -> int | None:
    words = text.split()
    if not words:
        return default
    if len(words) == 1 and words[0].isascii() and words[0].isdigit():
        days = int(words[0])
        return days if 1 <= days <= MAX_DAYS else None
    return None


def make_ml_gaps_handlers(
    deps: BotDeps, *, default_days: int
) -> tuple[Callable[..., None], Callable[..., None]]:
    def allowed(command: dict[str, Any], context: Any) -> bool:
        return deps.gaps is not None and deps.gaps.is_owner(team_of(context), command["user_id"])

    def ack_ml_gaps(ack: Ack, command: dict[str, Any], context: Any) -> None:
        if not allowed(command, context):
            ack(text=NOT_OWNER, response_type="ephemeral")
        elif parse_days(command.get("text") or "", default_days) is None:
            ack(text=USAGE, response_type="ephemeral")
        else:
            ack(text=":hourglass_flowing_sand: Grouping the questions…", response_type="ephemeral")

    def report(command: dict[str, Any], context: Any, respond: Respond) -> None:
        days = parse_days(command.get("text") or "", default_days)
        if days is None or deps.gaps is None or not allowed(command, context):
            return
        gaps = deps.gaps
        try:
            found = deps.work.run(gaps.report, team_id=team_of(context), days=days)
            message = gaps_message(found)
        except Exception:
            log.exception("gap report failed")
            message = error_message(FAILURE_TEXT)
        respond(**message, response_type="ephemeral", replace_original=True)

    return ack_ml_gaps, report
