"""Build and sign requests exactly as Slack sends them."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

SECRET = "test-signing-secret"
_ids = itertools.count(1)


def sign(body: str, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def event_body(event: dict[str, Any], *, event_id: str | None = None, team: str = "T0001") -> str:
    return json.dumps(
        {
            "token": "legacy",
            "team_id": team,
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(_ids):06d}",
            "event_time": int(time.time()),
            "event": {"event_ts": event.get("ts", "1.0"), **event},
            "authorizations": [{"team_id": team, "user_id": "UBOT", "is_bot": True}],
        }
    )


def dm(
    text: str, *, user: str = "U100", channel: str = "D100", ts: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "message",
        "channel_type": "im",
        "user": user,
        "channel": channel,
        "text": text,
        "ts": ts or f"{time.time():.6f}",
        **extra,
    }


def mention(
    text: str, *, user: str = "U100", channel: str = "C100", ts: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "app_mention",
        "user": user,
        "channel": channel,
        "text": f"<@UBOT> {text}",
        "ts": ts or f"{time.time():.6f}",
        **extra,
    }


def command_body(
    command: str,
    text: str,
    *,
    response_url: str,
    user: str = "U100",
    channel: str = "C100",
    team: str = "T0001",
) -> str:
    return urlencode(
        {
            "token": "legacy",
            "team_id": team,
            "team_domain": "test",
            "channel_id": channel,
            "channel_name": "ml",
            "user_id": user,
            "user_name": "leader",
            "command": command,
            "text": text,
            "api_app_id": "A0001",
            "response_url": response_url,
            "trigger_id": f"trig-{next(_ids)}",
        }
    )


def action_body(
    action: dict[str, Any],
    *,
    response_url: str,
    user: str = "U100",
    channel: str = "C100",
    message: dict[str, Any] | None = None,
    team: str = "T0001",
) -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": team, "domain": "test"},
        "user": {"id": user, "username": "leader", "team_id": team},
        "api_app_id": "A0001",
        "token": "legacy",
        "container": {"type": "message", "channel_id": channel, "is_ephemeral": message is None},
        "trigger_id": f"trig-{next(_ids)}",
        "channel": {"id": channel, "name": "ml"},
        "response_url": response_url,
        "actions": [{"action_ts": f"{time.time():.6f}", **action}],
    }
    if message is not None:
        payload["message"] = message
    return urlencode({"payload": json.dumps(payload)})


def post(
    url: str,
    body: str,
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    signed: bool = True,
    timeout: float = 30,
) -> tuple[int, str]:
    all_headers = {
        "Content-Type": content_type,
        **(sign(body) if signed else {}),
        **(headers or {}),
    }
    request = urllib.request.Request(url, data=body.encode(), headers=all_headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


FORM = "application/x-www-form-urlencoded"
