"""What we read from Slack's payloads, as pydantic models, checked before any listener runs.

Slack's ids, timestamps and values reach the database and the Web API. A signed payload can
still carry a 40-character user id, a list where the event should be, or text no person
writes; such a payload is acknowledged and dropped (a slash command gets a one-line apology)
instead of failing halfway through Bolt or a listener. Over HTTP the edge checks it
(``bot/slack/edge.py``) before Bolt sees it; the same check runs as Bolt middleware for
Socket Mode. Only the fields the listeners read are modelled; anything
else Slack sends passes untouched. Refusals are logged by field name, never by value.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from slack_bolt import BoltResponse

__all__ = [
    "MAX_TEXT_CHARS",
    "REFUSED_TEXT",
    "check_payload",
    "refusal",
    "validate_payloads",
]

log = logging.getLogger("bot.requests")

# Slack's ids are upper-case letters and digits; any plain word up to our 32-character columns
# passes, so only what no id looks like (a 40-character id, "²", a space) is refused.
SlackId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")]
EventId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Ts = Annotated[str, StringConstraints(pattern=r"^\d{1,12}(\.\d{1,8})?$")]
# Slack caps a message at 40,000 characters; a slash command's text is shorter still.
MAX_TEXT_CHARS = 40_000
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
Short = Annotated[str, StringConstraints(max_length=2_000)]
Url = Annotated[str, StringConstraints(pattern=r"^https?://\S{1,2000}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Id(_Model):
    id: SlackId


class Command(_Model):
    command: Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9._-]{1,32}$")]
    team_id: SlackId
    user_id: SlackId
    channel_id: SlackId
    text: Text = ""
    response_url: Url | None = None


class Action(_Model):
    action_id: Short
    block_id: Short = ""
    value: Short | None = None
    selected_options: list[dict[str, Any]] | None = Field(default=None, max_length=100)


class BlockActions(_Model):
    user: _Id
    team: _Id | None = None
    channel: _Id | None = None
    response_url: Url | None = None
    actions: list[Action] = Field(min_length=1, max_length=25)


class Interaction(_Model):
    """Any other interaction (a view submission, a shortcut…): what Bolt itself reads."""

    type: Short
    user: _Id | None = None
    team: _Id | None = None
    channel: _Id | None = None
    enterprise: _Id | None = None
    container: dict[str, Any] | None = None
    response_url: Url | None = None


class Event(_Model):
    type: Short
    user: SlackId | None = None
    channel: SlackId | None = None
    ts: Ts | None = None
    thread_ts: Ts | None = None
    event_ts: Ts | None = None
    text: Text | None = None


class EventCallback(_Model):
    team_id: SlackId | None = None
    event_id: EventId
    event: Event


# Slack's own handshakes, which Bolt answers without reading anything else.
_UNCHECKED = frozenset({"url_verification", "app_rate_limited", "ssl_check"})


def check_payload(body: dict[str, Any]) -> list[str]:
    """The names of the fields of ``body`` that are not what Slack sends (empty: fine)."""
    model: type[_Model]
    data: Any = body
    kind = body.get("type") if isinstance(body.get("type"), str) else None
    if body.get("command") is not None:
        model = Command
    elif kind in _UNCHECKED:
        return []
    elif kind == "event_callback":
        model = EventCallback
        event = body.get("event")
        if isinstance(event, dict) and not isinstance(event.get("user"), str | None):
            # user_change and similar events carry a user object: not ours to check.
            data = {**body, "event": {k: v for k, v in event.items() if k != "user"}}
    elif kind == "block_actions":
        model = BlockActions
    else:
        model = Interaction
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return sorted({".".join(str(part) for part in error["loc"]) for error in exc.errors()})
    return []


REFUSED_TEXT = "Sorry, I couldn't read that request. Please try again."


_KNOWN_KINDS = frozenset(
    {
        "event_callback",
        "block_actions",
        "view_submission",
        "view_closed",
        "shortcut",
        "message_action",
        "block_suggestion",
    }
)


def payload_kind(body: dict[str, Any]) -> str:
    """What a payload is, for the log: a name we know, never the sender's text."""
    if body.get("command") is not None:
        return "command"
    kind = body.get("type")
    return kind if isinstance(kind, str) and kind in _KNOWN_KINDS else "other"


def refusal(body: dict[str, Any]) -> dict[str, Any] | None:
    """None for a payload Slack could have sent; else the answer that acknowledges and drops
    it (a command's one-line apology, empty for the rest), the refusal logged by field."""
    wrong = check_payload(body)
    if not wrong:
        return None
    kind = payload_kind(body)
    # Field names come from our models (list positions aside), so they are safe to log.
    log.info("refused a malformed %s payload (fields: %s)", kind, ", ".join(wrong[:10]))
    return {"response_type": "ephemeral", "text": REFUSED_TEXT} if kind == "command" else {}


def validate_payloads(body: dict[str, Any], next: Callable[[], BoltResponse]) -> Any:
    """Bolt middleware (Socket Mode, where no HTTP edge checks first): drop a payload whose
    fields are not what Slack sends."""
    answer = refusal(body)
    if answer is None:
        return next()
    return BoltResponse(
        status=200,
        body=json.dumps(answer) if answer else "",
        headers={"content-type": "application/json"},
    )
