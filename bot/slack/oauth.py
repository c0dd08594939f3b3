"""OAuth mode: installs from any number of workspaces, each served with its own token.

Bolt runs the install and redirect paths (``/slack/install``, ``/slack/oauth_redirect``) and
exchanges the code with ``oauth.v2.access`` through the app's Web API client, so through
``SLACK_API_URL``. Installations and OAuth states live in the project's database (slack_sdk's
SQLAlchemy stores, tables under Alembic). Token rotation is refreshed through the same client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.token_rotation import TokenRotator

from bot.settings import Settings
from bot.slack.workspaces import ROTATE_MINUTES, team_of
from bot.store import Storage
from bot.store.installations import state_store

__all__ = [
    "WorkspaceInstallationStore",
    "make_oauth_settings",
    "make_rotator",
    "register_uninstall_listeners",
    "require_installation",
]

log = logging.getLogger("bot.installations")

# Requests Bolt lets through before any token exists (Slack's own checks, uninstall events).
_NO_INSTALL_NEEDED = {"url_verification", "ssl_check"}
_UNINSTALL_EVENTS = {"app_uninstalled", "tokens_revoked", "team_access_revoked"}


class WorkspaceInstallationStore(SQLAlchemyInstallationStore):
    """slack_sdk's store, plus: the first workspace to install inherits the rows that an
    upgraded single-workspace database kept (they have no workspace yet)."""

    def __init__(self, storage: Storage, *, client_id: str) -> None:
        super().__init__(client_id=client_id, engine=storage.engine, logger=log)
        self.storage = storage

    def save(self, installation: Installation) -> None:
        first = not self.storage.installed_team_ids()
        super().save(installation)
        team = installation.team_id or installation.enterprise_id or ""
        log.info("installed in workspace %s", team)
        if first:
            moved = self.storage.adopt_unowned(team)
            if moved:
                log.info("workspace %s took %d rows stored before workspaces", team, moved)


def make_rotator(settings: Settings, client: WebClient) -> TokenRotator:
    return TokenRotator(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        client=client,
    )


def make_oauth_settings(
    settings: Settings, *, installations: WorkspaceInstallationStore, client: WebClient
) -> OAuthSettings:
    oauth = OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=settings.scopes,
        redirect_uri=settings.slack_redirect_uri or None,
        installation_store=installations,
        state_store=state_store(installations.storage.engine),
        token_rotation_expiration_minutes=ROTATE_MINUTES,
        logger=logging.getLogger("bot.oauth"),
    )
    # Bolt's own authorize refreshes rotating tokens through slack.com; ours goes through the
    # configured SLACK_API_URL like every other call.
    oauth.authorize = InstallationStoreAuthorize(
        logger=logging.getLogger("bot.oauth"),
        installation_store=installations,
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        token_rotation_expiration_minutes=ROTATE_MINUTES,
        client=client,
        # auth.test once per token, not per request (an uninstalled workspace is stopped
        # before authorization, so a cached token is never used after its removal).
        cache_enabled=True,
    )
    return oauth


def require_installation(installations: SQLAlchemyInstallationStore) -> Callable[..., Any]:
    """Before authorization: a request from a workspace with no installation is acknowledged
    and dropped. Bolt would otherwise answer it with a "please reinstall" message (to the
    response_url, too), and this app posts nothing to a workspace that removed it."""

    def installed_only(body: dict[str, Any], context: Any, next: Callable[[], Any]) -> Any:
        kind = body.get("type")
        event = body.get("event") if isinstance(body.get("event"), dict) else {}
        if kind in _NO_INSTALL_NEEDED or (event or {}).get("type") in _UNINSTALL_EVENTS:
            return next()
        bot = installations.find_bot(
            enterprise_id=context.enterprise_id,
            team_id=context.team_id,
            is_enterprise_install=context.is_enterprise_install,
        )
        if bot is None:
            log.info(
                "request for workspace %s, which has no installation: ignored", team_of(context)
            )
            return BoltResponse(status=200, body="")
        return next()

    return installed_only


def register_uninstall_listeners(
    app: App, *, installations: SQLAlchemyInstallationStore, storage: Storage
) -> None:
    """``app_uninstalled`` and a revoked bot token remove the installation; the workspace's
    digests stop and its radar goes off. Revoked user tokens only remove those users' rows."""

    def forget(context: Any) -> None:
        team = team_of(context)
        installations.delete_all(enterprise_id=context.enterprise_id, team_id=context.team_id)
        storage.forget_workspace(team)
        log.info("workspace %s removed the app: installation deleted, digests stopped", team)

    @app.event("app_uninstalled")
    def on_app_uninstalled(context: Any) -> None:
        forget(context)

    @app.event("tokens_revoked")
    def on_tokens_revoked(event: dict[str, Any], context: Any) -> None:
        tokens = event.get("tokens") or {}
        if tokens.get("bot"):
            forget(context)
            return
        for user_id in tokens.get("oauth") or []:
            installations.delete_installation(
                enterprise_id=context.enterprise_id, team_id=context.team_id, user_id=user_id
            )
