"""/ml-checklist [topic] [head count]: instant, so the checklist travels in the ack itself."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack

from bot.slack.blocks import checklist_message, checklist_topics_message, unknown_topic_message
from bot.slack.deps import BotDeps
from bot.slack.workspaces import team_of

# Friendly spellings people type for the canonical topic ids.
ALIASES = {
    "team": "team-structure",
    "structure": "team-structure",
    "org": "team-structure",
    "teams": "team-structure",
    "launch": "evaluation",
    "launch-readiness": "evaluation",
    "readiness": "evaluation",
    "eval": "evaluation",
    "hire": "hiring",
    "recruiting": "hiring",
    "pitfall": "pitfalls",
    "mistakes": "pitfalls",
}
_HEAD_COUNT = re.compile(r"^(\d[\d,_]*)(?:\s*(?:people|employees|staff|ppl))?$")
MAX_HEAD_COUNT = 10_000_000


def parse_checklist_args(text: str) -> tuple[str, int | None, str | None]:
    """``"team-structure 120"`` -> (topic, head count, problem)."""
    words = (text or "").strip().split(maxsplit=1)
    if not words:
        return "", None, None
    topic = words[0].lower().strip("`'\"")
    topic = ALIASES.get(topic, topic)
    if len(words) == 1:
        return topic, None, None
    match = _HEAD_COUNT.match(words[1].strip().lower())
    if not match:
        return (
            topic,
            None,
            "The head count should be a number, e.g. `/ml-checklist team-structure 120`.",
        )
    count = int(match.group(1).replace(",", "").replace("_", ""))
    if not 1 <= count <= MAX_HEAD_COUNT:
        return topic, None, "The head count should be between 1 and 10,000,000."
    return topic, count, None


def make_ml_checklist_handler(deps: BotDeps) -> Callable[..., None]:
    checklists = deps.services.checklists

    def handle_ml_checklist(ack: Ack, command: dict[str, Any], context: Any) -> None:
        topic, head_count, problem = parse_checklist_args(command.get("text", ""))
        if not topic:
            ack(**checklist_topics_message(checklists), response_type="ephemeral")
            return
        checklist = checklists.get(topic)
        if checklist is None:
            ack(**unknown_topic_message(topic, checklists), response_type="ephemeral")
            return
        if problem:
            ack(text=problem, response_type="ephemeral")
            return
        ticked = deps.storage.checklists.ticked_items(
            team_id=team_of(context),
            user_id=command["user_id"],
            channel_id=command["channel_id"],
            checklist_id=checklist.id,
        )
        ack(
            **checklist_message(checklist, ticked=ticked, head_count=head_count),
            response_type="ephemeral",
        )

    return handle_ml_checklist
