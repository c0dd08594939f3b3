"""Channel settings belong to someone: the member who set a digest or the radar up, or a
workspace admin or owner, may change or cancel it. (Slack does not tell apps who a channel's
managers are, so they count as members here.)"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

__all__ = ["may_change", "refusal"]

log = logging.getLogger(__name__)


def may_change(client: WebClient, *, owner: str | None, user: str) -> bool:
    if not owner or owner == user:
        return True
    try:
        info = client.users_info(user=user).get("user") or {}
    except SlackApiError as exc:
        log.warning("users.info failed for %s: %s", user, exc.response.get("error"))
        return False
    return bool(info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner"))


def refusal(what: str, owner: str) -> str:
    return (
        f"<@{owner}> set up {what} here, so only they or a workspace admin can change it. "
        "Ask them, or an admin."
    )
