"""Answer a question in Slack: retrieve, record, post, and never stay silent."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.answers import QuestionError
from bot.slack.blocks import answer_message, error_message
from bot.slack.deps import BotDeps
from bot.store import as_utc
from bot.work import cost_of

__all__ = ["FAILURE_TEXT", "answer_in_slack", "answer_later", "recover_stalled"]

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
    job: str | None = None,
) -> None:
    """Post the answer to ``question`` in ``channel`` (in ``thread_ts`` when given). ``job``,
    the event's durable job, is finished once a reply is posted; a reply that cannot be
    posted leaves it pending, for another pass to try again."""
    reply_args = _where(channel, thread_ts)
    try:
        answer = deps.work.run(deps.services.answers.answer, question, context=context)
    except QuestionError:
        client.chat_postMessage(**reply_args, **error_message(EMPTY_TEXT))
        _finish(deps, job)
        return
    except Exception:
        log.exception("answering failed in %s", channel)
        client.chat_postMessage(**reply_args, **error_message(FAILURE_TEXT))
        _finish(deps, job)
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
    _finish(deps, job)
    if answer_id is not None and response.get("ts"):
        try:
            deps.storage.answers.set_answer_message(answer_id, str(response["ts"]))
        except Exception:
            log.warning("could not record the message ts of answer %s", answer_id, exc_info=True)


def _where(channel: str, thread_ts: str | None) -> dict[str, Any]:
    """Where a reply goes: the channel, in the thread when there is one."""
    return {"channel": channel, "thread_ts": thread_ts} if thread_ts else {"channel": channel}


def _finish(deps: BotDeps, job: str | None) -> None:
    if job is None:
        return
    try:
        deps.storage.jobs.finish(job)
    except Exception:  # the reply is out; at worst a recovery pass posts it once more
        log.warning("could not mark event %s answered", job, exc_info=True)


def answer_later(
    *,
    deps: BotDeps,
    client: WebClient,
    body: dict[str, Any],
    team_id: str,
    channel: str,
    user: str,
    question: str,
    thread_ts: str | None,
    context: str | None = None,
) -> None:
    """Record the question as a durable job (which is also its event's claim: a redelivery
    finds it), then answer it on the reply pool: a process that dies meanwhile leaves the
    job for another pass."""
    event_id = str(body.get("event_id") or "") or None
    if event_id is not None:
        try:
            recorded = deps.storage.jobs.record(
                event_id=event_id,
                team_id=team_id,
                channel_id=channel,
                user_id=user,
                thread_ts=thread_ts,
                question=question,
                context=context,
                worker=deps.worker_id,
                lease=deps.job_lease,
            )
            # A redelivery (Slack's retry): answered already, or being answered, unless the
            # process that took it died (its lease ran out): then this delivery takes it over.
            now = dt.datetime.now(dt.UTC)
            if not recorded and not deps.storage.jobs.take_over(
                event_id, worker=deps.worker_id, now=now, lease=deps.job_lease
            ):
                log.info("dropping redelivered event %s", event_id)
                return
        except Exception:  # the database is down: answer anyway, just not durably
            log.warning("could not record event %s as a job", event_id, exc_info=True)
            event_id = None
    deps.work.background(
        answer_in_slack,
        owner=f"{team_id}:{user}",
        cost=cost_of(question),
        deps=deps,
        client=client,
        team_id=team_id,
        channel=channel,
        user=user,
        question=question,
        thread_ts=thread_ts,
        context=context,
        job=event_id,
    )


MAX_ATTEMPTS = 4
LATE_TEXT = (
    "Sorry, I was interrupted while answering your question a while ago. Please ask it again."
)


def recover_stalled(
    deps: BotDeps,
    *,
    clients: Callable[[str], WebClient | None],
    max_age: dt.timedelta,
    now: dt.datetime | None = None,
) -> int:
    """Take over questions whose process died before replying: answer them, or apologise
    when they are too old to answer well. Returns how many were taken over."""
    now = now or dt.datetime.now(dt.UTC)
    taken = 0
    for event_id in deps.storage.jobs.stalled(now=now):
        job = deps.storage.jobs.take_over(
            event_id, worker=deps.worker_id, now=now, lease=deps.job_lease
        )
        if job is None:
            continue  # another process took it
        taken += 1
        client = clients(job.team_id)
        if client is None or job.attempts > MAX_ATTEMPTS:
            log.error(
                "giving up on event %s in %s after %d attempts",
                event_id,
                job.channel_id,
                job.attempts - 1,
            )
            deps.storage.jobs.finish(event_id)
            continue
        log.info("answering event %s in %s after an interruption", event_id, job.channel_id)
        if now - as_utc(job.created_at) > max_age:
            try:
                client.chat_postMessage(
                    **_where(job.channel_id, job.thread_ts), **error_message(LATE_TEXT)
                )
                deps.storage.jobs.finish(event_id)
            except Exception:
                log.warning("apology for event %s failed", event_id, exc_info=True)
            continue
        deps.work.background(
            answer_in_slack,
            owner=f"{job.team_id}:{job.user_id}",
            cost=cost_of(job.question),
            deps=deps,
            client=client,
            team_id=job.team_id,
            channel=job.channel_id,
            user=job.user_id,
            question=job.question,
            thread_ts=job.thread_ts,
            context=job.context,
            job=event_id,
        )
    return taken
