"""How the Web API client retries: rate limits with a capped wait, Slack's 5xx, its transient
``ok: false`` errors and dropped connections with backoff. A reply that still fails raises,
and its caller logs it by name."""

from __future__ import annotations

import logging
import random
import time

from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

__all__ = [
    "MAX_RETRY_AFTER",
    "RETRYABLE_ERRORS",
    "CappedRateLimitRetryHandler",
    "TransientErrorRetryHandler",
    "retry_handlers",
]

log = logging.getLogger("bot.slack_api")

# However long Slack asks us to wait, one reply waits at most this long before trying again:
# a reply thread asleep for 20 s is a reply thread other people's answers wait for.
MAX_RETRY_AFTER = 5.0
MAX_RETRIES = 3
# ``ok: false`` errors that Slack documents as passing (its own failures and timeouts), which a
# later attempt can succeed on. Anything else (channel_not_found, not_in_channel, invalid_auth…)
# would fail the same way again.
RETRYABLE_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)


class CappedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """Slack's 429: wait Retry-After (read leniently: a missing or non-numeric value counts
    as one second), but never longer than MAX_RETRY_AFTER."""

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:
            raise error  # type: ignore[misc]
        asked = next(
            (
                values[0]
                for name, values in response.headers.items()
                if name.lower() == "retry-after"
            ),
            None,
        )
        try:
            wait = float(asked) if asked is not None else 1.0
        except ValueError:
            wait = 1.0
        if wait > MAX_RETRY_AFTER:
            log.warning("rate limited: Slack asked for %ss, waiting %ss", asked, MAX_RETRY_AFTER)
        state.next_attempt_requested = True
        time.sleep(min(max(wait, 0.0), MAX_RETRY_AFTER) + random.random() * 0.2)
        state.increment_current_attempt()


class TransientErrorRetryHandler(RetryHandler):
    """A 200 whose body is ``ok: false`` with one of RETRYABLE_ERRORS: try again with backoff."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        body = response.body if response is not None else None
        return (
            isinstance(body, dict)
            and body.get("ok") is False
            and body.get("error") in RETRYABLE_ERRORS
        )


def retry_handlers() -> list[RetryHandler]:
    # The handlers share one attempt count per call: three retries in all, whatever the mix.
    return [
        CappedRateLimitRetryHandler(max_retry_count=MAX_RETRIES),
        ServerErrorRetryHandler(max_retry_count=MAX_RETRIES),
        TransientErrorRetryHandler(max_retry_count=MAX_RETRIES),
        ConnectionErrorRetryHandler(max_retry_count=MAX_RETRIES),
    ]
