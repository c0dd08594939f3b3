"""Slack message markup -> plain question text."""

from __future__ import annotations

import html
import re
from typing import Any

__all__ = ["channel_of_action", "mentions_user", "slack_to_plain"]

_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_SPECIAL = re.compile(r"<!(?:channel|here|everyone)(?:\|[^>]*)?>|<!subteam\^[^>]*>|<![^>]*>")
_CHANNEL = re.compile(r"<#[CG][A-Z0-9]+(?:\|([^>]*))?>")
_LINK = re.compile(r"<((?:https?|mailto):[^>|]+)(?:\|([^>]*))?>")


def slack_to_plain(text: str, *, bot_user_id: str | None = None) -> str:
    """Drop the bot's own mention and special mentions; keep link labels and channel names."""
    text = _USER.sub(lambda m: "" if m.group(1) == bot_user_id else "someone", text)
    text = _SPECIAL.sub("", text)
    text = _CHANNEL.sub(lambda m: f"#{m.group(1) or 'channel'}", text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    return html.unescape(text).strip()


def mentions_user(text: str, user_id: str | None) -> bool:
    return bool(user_id) and any(m.group(1) == user_id for m in _USER.finditer(text or ""))


def channel_of_action(body: dict[str, Any]) -> str:
    """The channel an interaction happened in (ephemeral messages only carry it in container)."""
    channel = (body.get("channel") or {}).get("id")
    return str(channel or (body.get("container") or {}).get("channel_id", ""))
