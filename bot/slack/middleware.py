"""Cross-cutting concerns: retry de-duplication and request logging."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltResponse

from bot.store import Storage

__all__ = ["make_dedupe_middleware", "request_logging"]

log = logging.getLogger("bot.requests")


def make_dedupe_middleware(
    storage: Storage, *, worker: str = "", lease: dt.timedelta = dt.timedelta(seconds=60)
) -> Callable[..., Any]:
    """Handle each Slack event id once: redeliveries (Slack retries) are acknowledged and
    dropped, unless the question they carry is still unanswered and its process's lease ran
    out (it died): then this delivery takes the question over.

    The claim is a database insert, so it holds across threads, processes and restarts.
    """

    def dedupe_events(body: dict[str, Any], next: Callable[[], BoltResponse], request: Any) -> Any:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not storage.events.claim_event(
            str(event_id), team_id=str(body.get("team_id") or "")
        ):
            retry = (request.headers.get("x-slack-retry-num") or ["?"])[0]
            now = dt.datetime.now(dt.UTC)
            if storage.jobs.take_over(str(event_id), worker=worker, now=now, lease=lease):
                log.info(
                    "redelivered event %s (retry %s) was never answered: answering", event_id, retry
                )
                return next()
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
