"""Feedback on an answer (Slack's feedback buttons, or the older 👍/👎), and a gap flagged on
a "not covered" reply: stored with the question and the passages that were shown. The last
click of a person wins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, Respond

from bot.slack.deps import BotDeps
from bot.slack.workspaces import team_of
from bot.store import GAP_FLAG

_VOTES = {"up": 1, "down": -1}
_MAX_ID_DIGITS = 18


def _answer_id(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= _MAX_ID_DIGITS else None


def make_feedback_handler(deps: BotDeps, *, vote: int | None = None) -> Callable[..., None]:
    """``vote`` fixed for the older one-vote buttons; None reads it from the value
    (``up:<id>`` / ``down:<id>`` of the feedback buttons)."""

    def handle_feedback(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, context: Any
    ) -> None:
        ack()
        value = str(action.get("value", ""))
        chosen = vote
        if chosen is None:
            which, _, value = value.partition(":")
            chosen = _VOTES.get(which)
        answer_id = _answer_id(value)
        if chosen is None or answer_id is None:
            return  # not a value we made
        stored = deps.storage.answers.record_feedback(
            team_id=team_of(context), answer_id=answer_id, user_id=body["user"]["id"], vote=chosen
        )
        if chosen == GAP_FLAG:
            text = "Thanks: I've noted that the knowledge base doesn't cover this yet."
        elif chosen > 0:
            text = "Thanks, glad it helped."
        else:
            text = "Thanks for telling me. I'll use this to improve my answers."
        if not stored:
            text = "I couldn't find that answer any more, so the feedback was not saved."
        respond(text=text, response_type="ephemeral", replace_original=False)

    return handle_feedback
