"""create_app(): the Bolt app, built from settings and loaded services; no import-time work."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.settings import Settings
from bot.slack.deps import BotDeps
from bot.slack.listeners import register_listeners
from bot.slack.middleware import make_dedupe_middleware, request_logging
from bot.slack.oauth import (
    WorkspaceInstallationStore,
    make_oauth_settings,
    register_uninstall_listeners,
    require_installation,
)
from bot.slack.payloads import validate_payloads
from bot.slack.replies import make_intake_middleware
from bot.slack.retries import retry_handlers

__all__ = ["create_app", "make_web_client"]


def make_web_client(settings: Settings, token: str | None = None) -> WebClient:
    """The Web API client: retries rate limits (Retry-After, capped), Slack's 500 and 503, and
    dropped connections.
    ``token`` defaults to SLACK_BOT_TOKEN (none in OAuth mode: each request brings its own)."""
    client = WebClient(
        token=token or settings.slack_bot_token or None,
        base_url=settings.slack_api_url,
        timeout=15,
        logger=logging.getLogger("bot.slack_api"),
    )
    client.retry_handlers.extend(retry_handlers())
    return client


LISTENER_WORKERS = 64


def _started_pool(workers: int) -> ThreadPoolExecutor:
    """A thread pool whose threads all exist already: a pool starts its threads one per
    submission, and starting dozens inside a burst of requests delays their acks."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="listener")
    barrier = threading.Barrier(workers + 1)
    for _ in range(workers):
        pool.submit(barrier.wait, 10)
    barrier.wait(10)
    return pool


def create_app(
    *,
    settings: Settings,
    deps: BotDeps,
    client: WebClient | None = None,
    edge_checked: bool = False,
) -> App:
    """The Slack app. The token is checked by the caller (``mlbot serve``), not here.
    ``edge_checked``: requests reach it through the HTTP edge, which has checked their
    payloads already (``bot/slack/edge.py``); otherwise the app checks them itself.

    In OAuth mode (``settings.oauth_mode``) it also serves Bolt's install and redirect paths,
    answers each workspace with its installation's token, and forgets a workspace that
    uninstalls."""
    client = client or make_web_client(settings)
    oauth: dict[str, Any] = {}
    installations = None
    if settings.oauth_mode:
        installations = WorkspaceInstallationStore(deps.storage, client_id=settings.slack_client_id)
        oauth = {
            "oauth_settings": make_oauth_settings(
                settings, installations=installations, client=client
            ),
            "before_authorize": require_installation(installations),
        }
    app = App(
        token=None if settings.oauth_mode else settings.slack_bot_token,
        signing_secret=settings.slack_signing_secret,
        client=client,
        token_verification_enabled=False,
        **oauth,
        logger=logging.getLogger("bot.app"),
        # Bolt runs each listener, ack included, in this pool and holds the HTTP response until
        # the ack: with its default 10 workers, a burst of DMs (each busy answering) kept later
        # requests from being acknowledged for over a second. Waiting threads are cheap: the
        # model work itself runs on the few low-priority threads of ``deps.work``.
        listener_executor=_started_pool(LISTENER_WORKERS),
    )
    app.use(request_logging)
    if not edge_checked:
        app.use(validate_payloads)
    app.use(make_dedupe_middleware(deps.storage))
    app.use(make_intake_middleware(deps))  # before the listeners' own middleware (Assistant)
    register_listeners(app, deps)
    if installations is not None:
        register_uninstall_listeners(app, installations=installations, storage=deps.storage)

    @app.error
    def log_unhandled(error: Exception, body: dict[str, object]) -> None:
        logging.getLogger("bot.app").exception(
            "unhandled error for %s", body.get("type"), exc_info=error
        )

    return app
