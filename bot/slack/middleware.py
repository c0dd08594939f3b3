"""Cross-cutting concerns: retry de-duplication and request logging."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltResponse

from bot.store import Storage

__all__ = ["make_dedupe_middleware", "request_logging"]

log = logging.getLogger("bot.requests")


# Questions arrive as these events: their durable job (see bot/slack/replies.py) is their
# claim, so they cost one database write on the ack path, not two.
QUESTION_EVENTS = frozenset({"message", "app_mention"})


def make_dedupe_middleware(storage: Storage) -> Callable[..., Any]:
    """Handle each Slack event id once: redeliveries (Slack retries) are acknowledged and
    dropped. Messages and mentions are claimed by their question's job instead, in
    ``answer_later``, which also takes over a question whose process died before answering.

    The claim is a database insert, so it holds across threads, processes and restarts.
    """

    def dedupe_events(body: dict[str, Any], next: Callable[[], BoltResponse], request: Any) -> Any:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        event = body.get("event") if isinstance(body.get("event"), dict) else {}
        if (event or {}).get("type") in QUESTION_EVENTS:
            return next()
        if event_id and not storage.events.claim_event(
            str(event_id), team_id=str(body.get("team_id") or "")
        ):
            retry = (request.headers.get("x-slack-retry-num") or ["?"])[0]
            log.info("dropping redelivered event %s (retry %s)", event_id, retry)
            return BoltResponse(status=200, body="")
        return next()

    return dedupe_events


def request_logging(body: dict[str, Any], next: Callable[[], BoltResponse]) -> Any:
    started = time.perf_counter()
    kind = body.get("type") or ("command" if body.get("command") else "unknown")
    detail = body.get("command") or (body.get("event") or {}).get("type") or ""
    response = next()
    log.debug("%s %s handled in %.1f ms", kind, detail, (time.perf_counter() - started) * 1000)
    return response
