"""/ml-pitfalls [text]: the catalogue instantly; a pasted plan is checked after the ack."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, Respond

from bot.pitfalls import find_pitfall
from bot.slack.blocks import (
    error_message,
    pitfall_catalogue_message,
    pitfall_detail_message,
    pitfall_matches_message,
)
from bot.slack.deps import BotDeps
from bot.slack.replies import FAILURE_TEXT
from bot.slack.text import slack_to_plain
from bot.work import cost_of

MAX_PLAN_CHARS = 8000


def _cut_note(length: int) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": f"Your text was long ({length:,} characters), so I checked its first "
                f"{MAX_PLAN_CHARS:,}.",
            }
        ],
    }


log = logging.getLogger(__name__)


def make_ml_pitfalls_handlers(
    deps: BotDeps,
) -> tuple[Callable[..., None], Callable[..., None]]:
    def ack_ml_pitfalls(ack: Ack, command: dict[str, Any]) -> None:
        text = slack_to_plain(command.get("text", "")).strip()
        named = find_pitfall(deps.services.pitfalls, text)
        if not text:
            ack(**pitfall_catalogue_message(deps.services.pitfalls), response_type="ephemeral")
        elif named is not None:
            ack(**pitfall_detail_message(named), response_type="ephemeral")
        else:
            ack(text=":mag: Checking your text for pitfalls…", response_type="ephemeral")

    def check_and_respond(text: str, respond: Respond) -> None:
        try:
            # Encoded a slice at a time on the model threads: another member's question is
            # served between the slices of a long plan.
            embedder = deps.detector.embedder
            matches = deps.detector.detect(
                text[:MAX_PLAN_CHARS],
                encode=lambda pieces: deps.work.encode_in_slices(embedder.encode, pieces),
            )
            message = pitfall_matches_message(matches)
            if len(text) > MAX_PLAN_CHARS:
                note = _cut_note(len(text))
                message["blocks"] = [note, *message["blocks"]][:50]
        except Exception:
            log.exception("pitfall check failed")
            message = error_message(FAILURE_TEXT)
        respond(**message, response_type="ephemeral", replace_original=True)

    def check_plan(command: dict[str, Any], respond: Respond) -> None:
        text = slack_to_plain(command.get("text", ""))
        # Without text the catalogue, and for a pitfall's name its details, went with the ack.
        if text.strip() and find_pitfall(deps.services.pitfalls, text) is None:
            deps.work.background(
                check_and_respond,
                text,
                respond,
                owner=f"{command.get('team_id', '')}:{command.get('user_id', '')}",
                cost=cost_of(text[:MAX_PLAN_CHARS]),
            )

    return ack_ml_pitfalls, check_plan
