"""Which workspace a request comes from, and which token speaks for each workspace.

Single-workspace mode (``SLACK_BOT_TOKEN``): one client serves its own workspace. OAuth mode
(``SLACK_CLIENT_ID`` + ``SLACK_CLIENT_SECRET``): each workspace's bot token comes from the
installation store, refreshed first when token rotation is on; a workspace with no
installation has no client, so nothing is posted there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.oauth.installation_store import InstallationStore
from slack_sdk.oauth.token_rotation import TokenRotator

__all__ = ["ROTATE_MINUTES", "Workspaces", "team_of"]

log = logging.getLogger(__name__)

# Refresh a rotating token this many minutes before it expires (Bolt's default too).
ROTATE_MINUTES = 120


def team_of(context: Any) -> str:
    """The workspace of a request: its team id (an org-wide install has only the enterprise)."""
    return str(getattr(context, "team_id", None) or getattr(context, "enterprise_id", None) or "")


class Workspaces:
    """A Web API client per workspace, for work that runs outside a request (digests)."""

    def __init__(
        self,
        *,
        client: WebClient,
        make_client: Callable[[str], WebClient] | None = None,
        installations: InstallationStore | None = None,
        rotator: TokenRotator | None = None,
        single_team: str | None = None,
    ) -> None:
        self.client = client
        self._make_client = make_client
        self.installations = installations
        self.rotator = rotator
        self.single_team = single_team

    def teams(self) -> list[str]:
        """The workspaces served: every installed one, or the bot token's own."""
        if self.installations is not None:
            from bot.store.installations import installed_team_ids

            engine = getattr(self.installations, "engine", None)
            return installed_team_ids(engine) if engine is not None else []
        return [self.single_team] if self.single_team else []

    def client_for(self, team_id: str) -> WebClient | None:
        """A client holding ``team_id``'s bot token; None when the bot is not installed there."""
        if self.installations is None:
            served = self.single_team is None or team_id in ("", self.single_team)
            return self.client if served else None
        bot = self.installations.find_bot(enterprise_id=None, team_id=team_id)
        if bot is None or not bot.bot_token:
            return None
        if bot.bot_refresh_token and self.rotator is not None:
            refreshed = self.rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=ROTATE_MINUTES
            )
            if refreshed is not None:
                self.installations.save_bot(refreshed)
                bot = refreshed
        assert self._make_client is not None
        return self._make_client(str(bot.bot_token))
