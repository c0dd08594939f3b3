"""`mlbot serve`: HTTP mode (waitress) or Socket Mode, sharing one app factory."""

from __future__ import annotations

import _thread
import datetime as dt
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from waitress.server import create_server

from bot.digests import DigestService
from bot.gaps import GapReport, GapService, GapTickReport
from bot.pitfalls import PitfallDetector
from bot.services import build_services, make_detector
from bot.settings import Settings
from bot.slack.app import create_app, make_web_client
from bot.slack.blocks import digest_message, gaps_message
from bot.slack.channels import SlackChannels
from bot.slack.deps import BotDeps
from bot.slack.edge import MAX_BODY_BYTES, check_health, read_verified
from bot.slack.oauth import WorkspaceInstallationStore, make_rotator
from bot.slack.replies import recover_stalled
from bot.slack.workspaces import Workspaces
from bot.store import Storage
from bot.work import ModelWork
from index.embedder import Embedder
from knowledge.schema import Pitfalls

__all__ = [
    "StartupError",
    "build_bot",
    "check_token",
    "make_digest_service",
    "run_scheduler",
    "serve_http",
    "serve_socket",
]

log = logging.getLogger("bot.server")
PURGE_EVERY = 3600.0  # seconds

# Bolt's defaults, which OAuthSettings uses too.
OAUTH_INSTALL_PATH = "/slack/install"
OAUTH_REDIRECT_PATH = "/slack/oauth_redirect"


class StartupError(RuntimeError):
    """The bot cannot start; the message says why in plain words."""


def check_token(client: WebClient, *, variable: str = "SLACK_BOT_TOKEN") -> dict[str, Any]:
    """Fail fast when Slack rejects the token (or cannot be reached)."""
    try:
        return dict(client.auth_test().data)  # type: ignore[arg-type]
    except SlackApiError as exc:
        raise StartupError(
            f"{variable} was rejected by Slack ({exc.response.get('error', 'unknown error')}). "
            "Copy the Bot User OAuth Token (xoxb-…) from your app's OAuth & Permissions page."
        ) from None
    except OSError as exc:
        raise StartupError(f"cannot reach the Slack API at {client.base_url}: {exc}") from None


def make_workspaces(
    settings: Settings, *, storage: Storage, client: WebClient, single_team: str | None = None
) -> Workspaces:
    """Single-workspace mode: ``client`` serves its own workspace. OAuth mode: each
    workspace's installation gives the token."""
    if not settings.oauth_mode:
        return Workspaces(client=client, single_team=single_team)
    return Workspaces(
        client=client,
        make_client=lambda token: make_web_client(settings, token),
        installations=WorkspaceInstallationStore(storage, client_id=settings.slack_client_id),
        rotator=make_rotator(settings, client),
    )


def make_digest_service(
    settings: Settings,
    *,
    storage: Storage,
    client: WebClient,
    catalogue: Pitfalls,
    detector: Callable[[], PitfallDetector],
    bot_user_id: str | None = None,
    single_team: str | None = None,
    workspaces: Workspaces | None = None,
) -> DigestService:
    workspaces = workspaces or make_workspaces(
        settings, storage=storage, client=client, single_team=single_team
    )

    def channels(team_id: str) -> SlackChannels | None:
        client = workspaces.client_for(team_id)
        return SlackChannels(client) if client is not None else None

    return DigestService(
        storage=storage,
        clients=channels,
        catalogue=catalogue,
        detector=detector,
        render=digest_message,
        lease=dt.timedelta(seconds=settings.digest_lease_seconds),
        bot_user_id=bot_user_id,
    )


def build_bot(
    settings: Settings,
    *,
    client: WebClient,
    bot_user_id: str | None = None,
    team_id: str | None = None,
    edge_checked: bool = False,
) -> tuple[App, BotDeps]:
    """Load the model, index, catalogues and database, then build the app. ``team_id`` is the
    bot token's workspace in single-workspace mode: rows stored before workspaces existed
    become its own."""
    if settings.embedding_threads is None:
        # Concurrent answers each get one core (see bot/work.py) instead of one answer at a
        # time on all of them.
        settings = settings.model_copy(update={"embedding_threads": 1})
    services = build_services(settings)
    storage = Storage.from_url(settings.resolved_database_url)
    if team_id and (moved := storage.adopt_unowned(team_id)):
        log.info("workspace %s took %d rows stored before workspaces", team_id, moved)
    detector = make_detector(settings, embedder=services.embedder, pitfalls=services.pitfalls)
    workspaces = make_workspaces(settings, storage=storage, client=client, single_team=team_id)
    digests = make_digest_service(
        settings,
        storage=storage,
        client=client,
        catalogue=services.pitfalls,
        detector=lambda: detector,
        bot_user_id=bot_user_id,
        workspaces=workspaces,
    )
    gaps, gaps_tick = make_gap_service(
        settings, storage=storage, workspaces=workspaces, embedder=lambda: services.embedder
    )
    deps = BotDeps(
        services=services,
        storage=storage,
        detector=detector,
        digests=digests,
        radar_threshold=settings.radar_threshold,
        work=ModelWork(workers=settings.model_workers, nice=settings.model_nice),
        gaps=gaps,
        gap_report_days=settings.gap_report_days,
        gaps_tick=gaps_tick,
        job_lease=dt.timedelta(seconds=settings.job_lease_seconds),
        workspaces=workspaces,
    )
    app = create_app(settings=settings, deps=deps, client=client, edge_checked=edge_checked)
    return app, deps


def run_recovery(
    deps: BotDeps, *, max_age: dt.timedelta, stop: threading.Event | None = None
) -> threading.Event:
    """Answer questions whose process died before replying: at once (a restart finds the
    last run's), then every few seconds, as their leases run out."""
    stop = stop or threading.Event()
    interval = max(1.0, min(15.0, deps.job_lease.total_seconds() / 2))
    workspaces = deps.workspaces
    assert workspaces is not None

    def loop() -> None:
        while not stop.is_set():
            try:
                if taken := recover_stalled(deps, clients=workspaces.client_for, max_age=max_age):
                    log.info("took over %d unanswered questions", taken)
            except Exception:
                log.exception("recovering unanswered questions failed")
            stop.wait(interval)

    threading.Thread(target=loop, name="recovery", daemon=True).start()
    return stop


def make_gap_service(
    settings: Settings,
    *,
    storage: Storage,
    workspaces: Workspaces,
    embedder: Callable[[], Embedder],
) -> tuple[GapService, Callable[..., GapTickReport]]:
    """The gap report service, and one weekly pass that DMs each owner with its workspace's
    own token."""
    gaps = GapService(
        storage=storage,
        embedder=embedder,
        owners=settings.owners_for,
        teams=lambda: [team for team in workspaces.teams() if settings.owners_for(team)],
        low_confidence=settings.gap_low_confidence,
        retention_days=settings.retention_days,
        lease=dt.timedelta(seconds=settings.digest_lease_seconds),
    )

    def send(team: str, owner: str, report: GapReport) -> str:
        client = workspaces.client_for(team)
        if client is None:
            raise RuntimeError(f"no installation in workspace {team}")
        return str(client.chat_postMessage(channel=owner, **gaps_message(report)).get("ts", ""))

    def weekly(now: dt.datetime | None = None) -> GapTickReport:
        return gaps.tick(send=send, now=now)

    return gaps, weekly


def run_scheduler(
    digests: DigestService,
    *,
    interval: float,
    stop: threading.Event | None = None,
    gaps_tick: Callable[[], GapTickReport] | None = None,
    retention_days: int = 0,
) -> threading.Event:
    """Tick in a background thread until ``stop`` is set: digests, then the owners' weekly gap
    reports. Claims in the database keep each exactly-once, whether one process or many run a
    scheduler."""
    stop = stop or threading.Event()
    purged_at = 0.0

    def purge() -> None:
        """Retention, at most hourly: old questions, feedback and claims are deleted."""
        nonlocal purged_at
        if retention_days and time.monotonic() - purged_at > PURGE_EVERY:
            purged_at = time.monotonic()
            cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=retention_days)
            if gone := digests.storage.purge(cutoff):
                log.info("retention: %d questions older than %d days deleted", gone, retention_days)

    def loop() -> None:
        while not stop.is_set():
            try:
                purge()
            except Exception:
                log.exception("retention purge failed")
            try:
                report = digests.tick()
                if report.posted or report.failed:
                    log.info("digests posted %s, failed %s", report.posted, report.failed)
            except Exception:
                log.exception("digest tick failed")
            if gaps_tick is not None:
                try:
                    gap_report = gaps_tick()
                    if gap_report.sent or gap_report.failed:
                        log.info(
                            "gap reports sent %s, failed %s", gap_report.sent, gap_report.failed
                        )
                except Exception:
                    log.exception("gap report tick failed")
            stop.wait(interval)

    threading.Thread(target=loop, name="digest-scheduler", daemon=True).start()
    return stop


class _Gateway:
    """WSGI entry: `/healthz` and `/slack/events`; answers 503 until the bot has loaded."""

    def __init__(self, paths: Iterable[str] = ("/slack/events",), *, signing_secret: str) -> None:
        self.paths = frozenset(paths)
        self.verifier = SignatureVerifier(signing_secret)
        # Set once the bot has loaded: the Slack handler, the model work it holds back while
        # requests are being acknowledged, and the database.
        self.serving: tuple[SlackRequestHandler, ModelWork, Storage] | None = None
        self.failure: str | None = None
        self.ready = threading.Event()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            if not self.ready.is_set() or self.serving is None:
                body = {"status": self.failure or "loading"}
                return self._json(start_response, "503 Service Unavailable", body)
            parts = check_health(self.serving[2])
            failing = [name for name, state in parts.items() if state != "ok"]
            body = {"status": f"failing: {', '.join(failing)}" if failing else "ok", **parts}
            status = "503 Service Unavailable" if failing else "200 OK"
            return self._json(start_response, status, body)
        if path in self.paths and self.serving is None:
            return self._json(start_response, "503 Service Unavailable", {"status": "loading"})
        if self.serving is None or path not in self.paths:
            return self._json(start_response, "404 Not Found", {"error": "not found"})
        handler, work, storage = self.serving
        # Model work waits while a request is checked and acknowledged (see bot/work.py).
        with work.acknowledging():
            if path == "/slack/events":
                refused = read_verified(environ, verifier=self.verifier, storage=storage)
                if refused is not None:
                    answer = refused.body if refused.body is not None else {"error": refused.error}
                    return self._json(start_response, refused.status, answer)
            return handler(environ, start_response)

    @staticmethod
    def _json(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> list[bytes]:
        payload = json.dumps(body).encode()
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        )
        return [payload]


def serve_http(settings: Settings, *, host: str, port: int) -> None:
    """Bind first (so the platform sees the port), load in the background, then serve."""
    client = make_web_client(settings)
    if settings.oauth_mode:
        # Many workspaces: no token of our own to check; each install brings one.
        settings.require("slack_signing_secret")
        identity: dict[str, Any] = {}
        paths: tuple[str, ...] = ("/slack/events", OAUTH_INSTALL_PATH, OAUTH_REDIRECT_PATH)
    else:
        settings.require("slack_bot_token", "slack_signing_secret")
        identity = check_token(client)
        paths = ("/slack/events",)
    gateway = _Gateway(paths, signing_secret=settings.slack_signing_secret)
    # waitress reads requests on one event loop and hands only whole ones to its threads: an
    # idle, half-open or trickling connection holds a socket, never a thread, and is closed
    # after HTTP_IDLE_TIMEOUT seconds. A body over the edge's cap gets a 413 before it is read.
    server = create_server(
        gateway,
        host=host,
        port=port,
        threads=settings.http_threads,
        channel_timeout=settings.http_idle_timeout,
        cleanup_interval=max(1, min(5, settings.http_idle_timeout // 2)),
        max_request_body_size=MAX_BODY_BYTES,
        connection_limit=1000,
        backlog=1024,
        asyncore_use_poll=True,  # select() stops at 1,024 descriptors
        ident="mlbot",
        expose_tracebacks=False,
    )
    bound_port = server.effective_port

    def load() -> None:
        try:
            app, deps = build_bot(
                settings,
                client=client,
                bot_user_id=identity.get("user_id"),
                team_id=identity.get("team_id"),
                edge_checked=True,  # the _Gateway checks every payload before Bolt
            )
        except Exception as exc:
            gateway.failure = f"failed to load: {exc}"
            log.exception("the bot failed to load")
            _thread.interrupt_main()  # ends server.run() below
            return
        gateway.serving = (SlackRequestHandler(app), deps.work, deps.storage)
        run_recovery(deps, max_age=dt.timedelta(seconds=settings.job_max_age_seconds))
        if settings.digest_scheduler:
            run_scheduler(
                deps.digests,
                interval=settings.digest_tick_seconds,
                gaps_tick=deps.gaps_tick,
                retention_days=settings.retention_days,
            )
        gateway.ready.set()
        log.info("ready: listening on http://%s:%s/slack/events", host, bound_port)
        if settings.oauth_mode:
            log.info("installs start at http://%s:%s%s", host, bound_port, paths[1])

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    threading.Thread(target=load, name="loader", daemon=True).start()
    log.info("loading the model and index; /healthz answers 200 when ready")
    server.run()  # until SIGTERM or Ctrl-C (waitress closes its sockets and threads)
    if gateway.failure:
        raise StartupError(gateway.failure)


def serve_socket(settings: Settings) -> None:
    """Socket Mode: no public URL needed; Slack pushes events over a WebSocket."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    settings.require("slack_bot_token", "slack_app_token")
    client = make_web_client(settings)
    identity = check_token(client)
    app, deps = build_bot(
        settings,
        client=client,
        bot_user_id=identity.get("user_id"),
        team_id=identity.get("team_id"),
    )
    if settings.digest_scheduler:
        run_scheduler(deps.digests, interval=settings.digest_tick_seconds, gaps_tick=deps.gaps_tick)
    run_recovery(deps, max_age=dt.timedelta(seconds=settings.job_max_age_seconds))
    handler = SocketModeHandler(app, settings.slack_app_token)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log.info("connecting in Socket Mode")
    handler.start()
