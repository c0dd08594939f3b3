"""A fake Slack Web API on 127.0.0.1 that records every call (and response_url posts).

Point ``SLACK_API_URL`` (or a ``WebClient(base_url=...)``) at :attr:`FakeSlack.api_url`, give
slash commands a ``response_url`` from :meth:`FakeSlack.response_url`, then assert on
:meth:`FakeSlack.calls`. Failures can be scripted per method (rate limits, API errors).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


class FakeSlack:
    BOT_USER_ID = "UBOT"
    BOT_ID = "BBOT"
    TEAM_ID = "T0001"

    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._ts = itertools.count(1)
        self._failures: dict[str, list[tuple[int, dict[str, Any], dict[str, str]]]] = {}
        self.handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        # When on, posted messages join their channel's history (and their thread's replies),
        # metadata included, as in Slack.
        self.keep_posts = False
        self.users: dict[str, dict[str, Any]] = {}
        self.valid_tokens: set[str] | None = None
        # OAuth: a code handed out by "Slack" for a workspace, and each installed bot token's
        # workspace (auth.test answers for the token's own workspace).
        self.oauth_codes: dict[str, str] = {}
        self.token_teams: dict[str, str] = {}
        # Workspaces whose installs rotate tokens: their first token is already expiring.
        self.rotating_teams: set[str] = set()
        self._refresh_teams: dict[str, str] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    params = json.loads(raw or "{}")
                else:
                    params = {k: v[0] for k, v in parse_qs(raw).items()}
                    for key in ("blocks", "attachments"):
                        if isinstance(params.get(key), str):
                            params[key] = json.loads(params[key])
                status, body, headers = fake._handle(self.path, params, dict(self.headers))
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # lifecycle ---------------------------------------------------------------------------------
    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def response_url(self, name: str = "r") -> str:
        return f"{self.base_url}/response/{name}"

    # scripting ---------------------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        *,
        status: int = 200,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail (e.g. 429 with Retry-After)."""
        with self._lock:
            for _ in range(times):
                self._failures.setdefault(method, []).append(
                    (status, body or {"ok": False, "error": "ratelimited"}, headers or {})
                )

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._failures.clear()
            self.history.clear()
            self.handlers.clear()
            self.keep_posts = False

    # inspection --------------------------------------------------------------------------------
    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 20.0) -> list[Call]:
        """Block until ``method`` was called ``count`` times; returns those calls."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [c for c in self._calls if c.method == method]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} {method} call(s), got {len(found)}; all calls: "
                        f"{[c.method for c in self._calls]}"
                    )
                self._changed.wait(remaining)

    # the API -----------------------------------------------------------------------------------
    def _handle(
        self, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if path.startswith("/response/"):
            method = "response_url:" + path.split("/response/", 1)[1]
        else:
            method = path.split("/api/", 1)[-1].split("?")[0]
        auth = headers.get("Authorization", "")
        if "token" not in params and auth.startswith("Bearer "):
            params = {**params, "token": auth[7:]}
        with self._changed:
            self._calls.append(Call(method, params, headers))
            self._changed.notify_all()
            failures = self._failures.get(method)
            if failures:
                return failures.pop(0)
        if (
            self.valid_tokens is not None
            and not method.startswith("response_url")
            and (params.get("token") not in self.valid_tokens)
        ):
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if method in self.handlers:
            return 200, self.handlers[method](params), {}
        return 200, self._default(method, params), {}

    def issue_code(self, team: str) -> str:
        """The code Slack would add to the redirect after a person approves the install."""
        code = f"code-{team}-{next(self._ts)}"
        with self._lock:
            self.oauth_codes[code] = team
        return code

    def _oauth_access(self, params: dict[str, Any]) -> dict[str, Any]:
        refreshing = params.get("grant_type") == "refresh_token"
        with self._lock:
            if refreshing:
                team = self._refresh_teams.pop(str(params.get("refresh_token")), None)
            else:
                team = self.oauth_codes.pop(str(params.get("code")), None)
        if team is None:
            return {"ok": False, "error": "invalid_refresh_token" if refreshing else "invalid_code"}
        token = (
            f"xoxe.xoxb-{team}-{next(self._ts)}" if refreshing else f"xoxb-{team}-{next(self._ts)}"
        )
        rotation: dict[str, Any] = {}
        with self._lock:
            self.token_teams[token] = team
            if refreshing or team in self.rotating_teams:
                refresh = f"xoxe-1-{team}-{next(self._ts)}"
                self._refresh_teams[refresh] = team
                # A first token that is about to expire; a refreshed one lasts twelve hours.
                rotation = {"refresh_token": refresh, "expires_in": 43200 if refreshing else 60}
        if refreshing:
            return {"ok": True, "token_type": "bot", "access_token": token, **rotation}
        return {
            **rotation,
            "ok": True,
            "app_id": "A0001",
            "authed_user": {"id": f"UADMIN{team}"},
            "scope": "chat:write,commands,im:history,app_mentions:read,assistant:write",
            "token_type": "bot",
            "access_token": token,
            "bot_user_id": self.BOT_USER_ID,
            "team": {"id": team, "name": f"Team {team}"},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _next_ts(self) -> str:
        return f"{1_700_000_000 + next(self._ts)}.000100"

    def _default(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "oauth.v2.access":
            return self._oauth_access(params)
        if method == "auth.test":
            team = self.token_teams.get(str(params.get("token")), self.TEAM_ID)
            return {
                "ok": True,
                "user_id": self.BOT_USER_ID,
                "bot_id": self.BOT_ID,
                "team_id": team,
                "user": "mlbot",
                "team": "Test",
                "url": "https://test.slack.com/",
            }
        if method == "chat.postMessage":
            ts = self._next_ts()
            if self.keep_posts:
                message = {
                    "ts": ts,
                    "bot_id": self.BOT_ID,
                    "text": params.get("text", ""),
                    "thread_ts": params.get("thread_ts"),
                    "metadata": params.get("metadata"),
                }
                self.history.setdefault(str(params.get("channel")), []).append(message)
            return {"ok": True, "channel": params.get("channel"), "ts": ts, "message": {"ts": ts}}
        if method == "conversations.replies":
            thread = str(params.get("ts"))
            messages = self.history.get(params.get("channel", ""), [])
            return {"ok": True, "messages": [m for m in messages if m.get("thread_ts") == thread]}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "chat.update":
            return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}
        if method == "chat.getPermalink":
            ts = str(params.get("message_ts", "")).replace(".", "")
            return {
                "ok": True,
                "permalink": f"https://test.slack.com/archives/{params.get('channel')}/p{ts}",
            }
        if method == "users.info":
            user = params.get("user", "")
            info = {"id": user, "tz": "America/New_York", "is_bot": False}
            return {"ok": True, "user": {**info, **self.users.get(user, {})}}
        if method == "conversations.history":
            messages = self.history.get(params.get("channel", ""), [])
            oldest = float(params.get("oldest") or 0)
            latest = float(params.get("latest") or "inf")
            kept = [m for m in messages if oldest < float(m["ts"]) < latest]
            cursor = int(params.get("cursor") or 0)
            limit = int(params.get("limit") or 100)
            page = kept[cursor : cursor + limit]
            more = cursor + limit < len(kept)
            return {
                "ok": True,
                "messages": page,
                "has_more": more,
                "response_metadata": {"next_cursor": str(cursor + limit) if more else ""},
            }
        return {"ok": True}
