"""👍/👎 on an answer: stored with the question and the passages that were shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, Respond

from bot.deps import BotDeps


def make_feedback_handler(deps: BotDeps, *, vote: int) -> Callable[..., None]:
    def handle_feedback(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        try:
            answer_id = int(action.get("value", ""))
        except ValueError:
            return
        stored = deps.storage.record_feedback(
            answer_id=answer_id, user_id=body["user"]["id"], vote=vote
        )
        text = (
            "Thanks, glad it helped."
            if vote > 0
            else "Thanks for telling me. I'll use this to improve my answers."
        )
        if not stored:
            text = "I couldn't find that answer any more, so the feedback was not saved."
        respond(text=text, response_type="ephemeral", replace_original=False)

    return handle_feedback
