"""Answer a question in Slack: retrieve, record, post, and never stay silent."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.answers import QuestionError
from bot.slack.blocks import answer_message, error_message
from bot.slack.deps import BotDeps
from bot.slack.middleware import QUESTION_EVENTS
from bot.slack.text import mentions_user, slack_to_plain
from bot.slack.workspaces import team_of
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
    retaken: bool = False,
) -> None:
    """Post the answer to ``question`` in ``channel`` (in ``thread_ts`` when given). ``job``,
    the event's durable job, is finished once a reply is posted; a reply that cannot be
    posted leaves it pending, for another pass to try again. A ``retaken`` job (its first
    process died) is answered only if that process's reply is not in the channel already."""
    if job is not None and retaken and _already_posted(client, channel, thread_ts, job):
        log.info("event %s was answered before the interruption", job)
        _finish(deps, job)
        return
    reply_args = {**_where(channel, thread_ts), **_marked(job)}
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
            "reply to event %s in %s (thread %s) failed after retries: %s",
            job or "-",
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


# The jobs this process holds (queued or being answered): their leases are renewed, and the
# recovery pass leaves them alone.
_in_hand: set[str] = set()
_in_hand_lock = threading.Lock()


def _hold(job: str | None) -> None:
    if job is not None:
        with _in_hand_lock:
            _in_hand.add(job)


def _release(job: str | None) -> None:
    if job is not None:
        with _in_hand_lock:
            _in_hand.discard(job)


def jobs_in_hand() -> list[str]:
    with _in_hand_lock:
        return sorted(_in_hand)


# Every reply to a question carries its job in Slack's message metadata, so a process that
# takes over a job can see whether the reply went out before the first process died.
REPLY_EVENT_TYPE = "mlbot_reply"


def _marked(job: str | None) -> dict[str, Any]:
    if job is None:
        return {}
    return {"metadata": {"event_type": REPLY_EVENT_TYPE, "event_payload": {"job": job}}}


def _already_posted(client: WebClient, channel: str, thread_ts: str | None, job: str) -> bool:
    """Whether a reply marked with ``job`` is among the channel's (or thread's) latest
    messages. When Slack cannot tell us, we answer: a rare second reply beats a lost one."""
    try:
        if thread_ts:
            found = client.conversations_replies(
                channel=channel, ts=thread_ts, limit=50, include_all_metadata=True
            )
        else:
            found = client.conversations_history(
                channel=channel, limit=30, include_all_metadata=True
            )
    except Exception as exc:
        error = exc.response.get("error") if isinstance(exc, SlackApiError) else None
        log.info("could not look for event %s's reply in %s: %s", job, channel, error or "-")
        return False
    for message in found.get("messages") or []:
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") == REPLY_EVENT_TYPE and (
            (metadata.get("event_payload") or {}).get("job") == job
        ):
            return True
    return False


def _finish(deps: BotDeps, job: str | None) -> None:
    if job is None:
        return
    try:
        deps.storage.jobs.finish(job)
    except Exception:  # the reply is out; at worst a recovery pass posts it once more
        log.warning("could not mark event %s answered", job, exc_info=True)


# The context key under which the intake middleware leaves a question's job for its listener:
# (event id, whether this delivery took the job over from a process that died).
JOB_KEY = "question_job"
# Message subtypes that can be questions (edits, deletions, joins and the like are not).
QUESTION_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})


def question_in(
    event: dict[str, Any], *, deps: BotDeps, team_id: str, bot_user_id: str | None
) -> tuple[str, str | None] | None:
    """The question (as plain text) and thread of a message or mention the bot answers, or
    None: every DM; a mention; in channels, a reply in a thread the bot answered that does
    not mention it (the mention's own event answers that one)."""
    user, channel = event.get("user"), event.get("channel")
    if event.get("bot_id") or not user or not channel or user == bot_user_id:
        return None
    text = str(event.get("text") or "")
    question = slack_to_plain(text, bot_user_id=bot_user_id)
    if event.get("type") == "app_mention":
        if event.get("subtype"):
            return None
        return question, str(event.get("thread_ts") or event.get("ts") or "") or None
    if event.get("type") != "message" or event.get("subtype") not in QUESTION_SUBTYPES:
        return None
    thread_ts = event.get("thread_ts")
    if event.get("channel_type") == "im":
        return question, thread_ts
    if not thread_ts or mentions_user(text, bot_user_id):
        return None
    earlier = deps.storage.answers.thread_question(
        team_id=team_id, channel_id=channel, thread_ts=thread_ts
    )
    return (question, thread_ts) if earlier is not None else None


def make_intake_middleware(deps: BotDeps) -> Callable[..., Any]:
    """Record each question as a durable job *before* Slack gets its 200: Bolt acknowledges
    events first and runs their listeners afterwards, so a job recorded by the listener
    could be lost with a process killed in between. The job is also the event's claim: a
    redelivery finds it, and is dropped, or takes it over when its process died."""

    def record_questions(body: dict[str, Any], context: Any, next: Callable[[], Any]) -> Any:
        event = body.get("event") if body.get("type") == "event_callback" else None
        event_id = str(body.get("event_id") or "")
        if not isinstance(event, dict) or event.get("type") not in QUESTION_EVENTS or not event_id:
            return next()
        team = team_of(context)
        try:
            found = question_in(event, deps=deps, team_id=team, bot_user_id=context.bot_user_id)
            if found is None:
                return next()
            question, thread_ts = found
            recorded = deps.storage.jobs.record(
                event_id=event_id,
                team_id=team,
                channel_id=str(event["channel"]),
                user_id=str(event["user"]),
                thread_ts=thread_ts,
                question=question,
                context=None,
                worker=deps.worker_id,
                lease=deps.job_lease,
            )
            if not recorded:
                now = dt.datetime.now(dt.UTC)
                if not deps.storage.jobs.take_over(
                    event_id, worker=deps.worker_id, now=now, lease=deps.job_lease
                ):
                    log.info("dropping redelivered event %s", event_id)
                    return BoltResponse(status=200, body="")
            context[JOB_KEY] = (event_id, not recorded)
        except Exception:  # the database is down: answer anyway, just not durably
            log.warning("could not record event %s as a job", event_id, exc_info=True)
        return next()

    return record_questions


def decline(deps: BotDeps, context: Any) -> None:
    """A listener that will not answer after all closes the event's job, if it has one."""
    job = context.get(JOB_KEY) if context is not None else None
    if job is not None:
        _finish(deps, job[0])


def answer_later(
    *,
    deps: BotDeps,
    client: WebClient,
    job: tuple[str, bool] | None,
    team_id: str,
    channel: str,
    user: str,
    question: str,
    thread_ts: str | None,
    context: str | None = None,
) -> None:
    """Answer ``question`` on the reply pool. ``job`` (from the intake middleware, via the
    Bolt context's JOB_KEY) is finished when the reply is posted; a process that dies
    meanwhile leaves it for another pass."""
    event_id, retaken = job if job is not None else (None, False)
    _answer_in_background(
        deps=deps,
        client=client,
        team_id=team_id,
        channel=channel,
        user=user,
        question=question,
        thread_ts=thread_ts,
        context=context,
        job=event_id,
        retaken=retaken,
    )


def _answer_in_background(
    *,
    deps: BotDeps,
    client: WebClient,
    team_id: str,
    channel: str,
    user: str,
    question: str,
    thread_ts: str | None,
    context: str | None,
    job: str | None,
    retaken: bool,
) -> None:
    """``answer_in_slack`` on the reply pool, queued as its asker's work; the job is in this
    process's hand (its lease renewed, recovery leaving it alone) until the answer is done."""

    def answer() -> None:
        try:
            answer_in_slack(
                deps=deps,
                client=client,
                team_id=team_id,
                channel=channel,
                user=user,
                question=question,
                thread_ts=thread_ts,
                context=context,
                job=job,
                retaken=retaken,
            )
        finally:
            _release(job)

    _hold(job)
    deps.work.background(answer, owner=f"{team_id}:{user}", cost=cost_of(question))


MAX_ATTEMPTS = 4
LATE_TEXT = (
    "Sorry, I was interrupted while answering your question a while ago. Please ask it again."
)


def _thread_context(deps: BotDeps, job: Any) -> str | None:
    """The question a thread answered before, for a follow-up recovered from its job."""
    if not job.thread_ts:
        return None
    earlier = deps.storage.answers.thread_question(
        team_id=job.team_id, channel_id=job.channel_id, thread_ts=job.thread_ts
    )
    return earlier if earlier != job.question else None


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
    held = jobs_in_hand()
    deps.storage.jobs.renew(held, worker=deps.worker_id, now=now, lease=deps.job_lease)
    taken = 0
    for event_id in deps.storage.jobs.stalled(now=now):
        if event_id in held:
            continue  # ours, waiting its turn: answered by this process
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
            if _already_posted(client, job.channel_id, job.thread_ts, event_id):
                deps.storage.jobs.finish(event_id)
                continue
            try:
                client.chat_postMessage(
                    **_where(job.channel_id, job.thread_ts),
                    **_marked(event_id),
                    **error_message(LATE_TEXT),
                )
                deps.storage.jobs.finish(event_id)
            except Exception:
                log.warning("apology for event %s failed", event_id, exc_info=True)
            continue
        _answer_in_background(
            deps=deps,
            client=client,
            team_id=job.team_id,
            channel=job.channel_id,
            user=job.user_id,
            question=job.question,
            thread_ts=job.thread_ts,
            context=job.context or _thread_context(deps, job),
            job=event_id,
            retaken=True,
        )
    return taken
