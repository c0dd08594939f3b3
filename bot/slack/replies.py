"""Answer a question in Slack: retrieve, record, post, and never stay silent."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.answers import QuestionError
from bot.slack.blocks import answer_message, error_message
from bot.slack.deps import BotDeps

__all__ = ["FAILURE_TEXT", "answer_in_slack"]

FAILURE_TEXT = "Sorry, something went wrong while I was looking that up. Please try again."
EMPTY_TEXT = (
    "Ask me a question about leading ML work, for example: "
    "_How should we structure our ML team at 40 people?_"
)

log = logging.getLogger(__name__)


def answer_in_slack(
    *,
    deps: BotDeps,
    client: WebClient,
    team_id: str,
    channel: str,
    user: str,
    question: str,
    thread_ts: str | None,
    context: str | None = None,
) -> None:
    """Post the answer to ``question`` in ``channel`` (in ``thread_ts`` when given)."""
    reply_args: dict[str, Any] = {"channel": channel}
    if thread_ts:
        reply_args["thread_ts"] = thread_ts
    try:
        answer = deps.work.run(deps.services.answers.answer, question, context=context)
    except QuestionError:
        client.chat_postMessage(**reply_args, **error_message(EMPTY_TEXT))
        return
    except Exception:
        log.exception("answering failed in %s", channel)
        client.chat_postMessage(**reply_args, **error_message(FAILURE_TEXT))
        return
    answer_id: int | None = None
    try:
        answer_id = deps.storage.answers.record_answer(
            team_id=team_id,
            channel_id=channel,
            user_id=user,
            thread_ts=thread_ts,
            question=answer.question,
            answered=answer.answered,
            passages=answer.to_json()["passages"],
            confidence=answer.confidence,
            sections=answer.nearest_topics or tuple(p.section for p in answer.passages),
        )
    except Exception:
        # The database is down or refused the row: the person still gets the answer (only
        # the feedback buttons, which need the stored row, are left out).
        log.exception("could not record the answer in %s; posting it anyway", channel)
    try:
        response = client.chat_postMessage(
            **reply_args, **answer_message(answer, answer_id=answer_id)
        )
    except Exception as exc:
        error = exc.response.get("error") if isinstance(exc, SlackApiError) else None
        log.error(
            "reply in %s (thread %s) failed after retries: %s",
            channel,
            thread_ts or "-",
            error or type(exc).__name__,
        )
        return
    if answer_id is not None and response.get("ts"):
        try:
            deps.storage.answers.set_answer_message(answer_id, str(response["ts"]))
        except Exception:
            log.warning("could not record the message ts of answer %s", answer_id, exc_info=True)
