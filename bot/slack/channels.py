"""The digests' view of one workspace, through its Web API client: people's time zones, a
channel's history, permalinks and posting. The product side (``bot.digests``) decides what
to read and what to say; this is the only part of it that speaks Slack."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

__all__ = ["SlackChannels"]

log = logging.getLogger("bot.digests")

HISTORY_PAGE = 200


class SlackChannels:
    def __init__(self, client: WebClient) -> None:
        self.client = client

    def user_tz(self, user_id: str) -> str | None:
        """The person's Slack time zone (``users.info``); None when Slack does not say."""
        try:
            user: dict[str, Any] = self.client.users_info(user=user_id).get("user") or {}
        except SlackApiError as exc:
            log.warning("users.info failed for %s: %s", user_id, exc.response.get("error"))
            return None
        tz = user.get("tz")
        return str(tz) if tz else None

    def history(
        self, channel_id: str, *, oldest: dt.datetime, latest: dt.datetime
    ) -> Iterator[list[dict[str, Any]]]:
        """The channel's messages in the window, a page at a time (``conversations.history``).
        Slack errors (not in the channel, say) are raised."""
        cursor: str | None = None
        while True:
            response = self.client.conversations_history(
                channel=channel_id,
                oldest=f"{oldest.timestamp():.6f}",
                latest=f"{latest.timestamp():.6f}",
                limit=HISTORY_PAGE,
                cursor=cursor,
                inclusive=False,
            )
            yield list(response.get("messages") or [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not response.get("has_more") or not cursor:
                return

    def permalink(self, channel_id: str, ts: str) -> str | None:
        try:
            return str(
                self.client.chat_getPermalink(channel=channel_id, message_ts=ts)["permalink"]
            )
        except (SlackApiError, KeyError):
            return None

    def post(self, channel_id: str, message: dict[str, Any]) -> str:
        """Post ``message`` (text and blocks); the message's ts."""
        return str(self.client.chat_postMessage(channel=channel_id, **message).get("ts", ""))
