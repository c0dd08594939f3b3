"""Slack's agent container: suggested prompts when a thread starts, a title from the first
question, a status while the answer is worked out (the reply clears it).

Bolt's :class:`Assistant` middleware takes the container's events and the messages of DM
threads; DMs outside a thread still reach the ``message`` listener, as before.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from slack_bolt import App, Assistant, SetStatus, SetSuggestedPrompts, SetTitle
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.deps import BotDeps
from bot.slack.replies import JOB_KEY, answer_later, decline
from bot.slack.text import slack_to_plain
from bot.slack.workspaces import team_of

__all__ = ["prompt_objects", "register"]

STATUS = "is looking that up in the knowledge base…"
PROMPTS_TITLE = "Ask about leading ML work"
MAX_TITLE_CHARS = 80
MAX_PROMPTS = 4
MAX_PROMPT_TITLE = 60
POPULAR_WINDOW = dt.timedelta(days=30)

log = logging.getLogger(__name__)


def prompt_objects(deps: BotDeps, team_id: str = "") -> list[dict[str, str]]:
    """Suggested prompts, as Slack's prompt objects: up to two questions several people here
    asked (in the same words) and got answered in the last weeks, then the knowledge base's
    main topics, four in all."""
    prompts: list[dict[str, str]] = []
    try:
        since = dt.datetime.now(dt.UTC) - POPULAR_WINDOW
        for question in deps.storage.gaps.popular_answered(team_id=team_id, since=since):
            prompts.append({"title": _trim(question, MAX_PROMPT_TITLE), "message": question})
    except Exception:  # prompts are a nicety: the knowledge base's own ones still go out
        log.warning("could not read the most-asked questions", exc_info=True)
    asked = {p["message"].lower() for p in prompts}
    for title, message in deps.services.answers.suggested_prompts():
        if len(prompts) == MAX_PROMPTS:
            break
        if message.lower() not in asked:
            prompts.append({"title": title, "message": message})
    return prompts


def _trim(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _quietly(what: str, call: Any, **kwargs: Any) -> None:
    """A container nicety (title, status, prompts) must never cost the answer."""
    try:
        call(**kwargs)
    except SlackApiError as exc:
        log.warning("could not %s: %s", what, exc.response.get("error"))


def register(app: App, deps: BotDeps) -> None:
    assistant = Assistant(logger=logging.getLogger("bot.assistant"))

    @assistant.thread_started
    def thread_started(set_suggested_prompts: SetSuggestedPrompts, context: Any) -> None:
        _quietly(
            "set suggested prompts",
            set_suggested_prompts,
            prompts=prompt_objects(deps, team_of(context)),
            title=PROMPTS_TITLE,
        )

    @assistant.user_message
    def user_message(
        payload: dict[str, Any],
        client: WebClient,
        context: Any,
        body: dict[str, Any],
        set_status: SetStatus,
        set_title: SetTitle,
    ) -> None:
        if payload.get("subtype") not in (None, "file_share"):
            decline(deps, context)
            return
        channel, thread_ts = payload["channel"], payload["thread_ts"]
        question = slack_to_plain(payload.get("text", ""), bot_user_id=context.bot_user_id)
        team = team_of(context)
        earlier = deps.storage.answers.thread_question(
            team_id=team, channel_id=channel, thread_ts=thread_ts
        )
        if earlier is None and question.strip():
            # The first question names the thread in the container's history.
            _quietly("set the thread title", set_title, title=question[:MAX_TITLE_CHARS])
        _quietly("set the status", set_status, status=STATUS)
        answer_later(
            deps=deps,
            client=client,
            job=context.get(JOB_KEY),
            team_id=team,
            channel=channel,
            user=payload["user"],
            question=question,
            thread_ts=thread_ts,
            context=earlier,
        )

    app.use(assistant)
