"""The HTTP edge in front of Bolt: nothing from outside is read, parsed or logged before it is
known to come from Slack.

- A body larger than Slack ever sends is refused on its Content-Length, unread.
- The signature (and its five-minute timestamp) is checked on the raw bytes first.
- A command or interaction whose signature was seen before is a replay, and refused; an event
  is claimed by its id instead (a replay or Slack's retry is acknowledged and dropped).
- A signed body that is not the JSON or form Slack sends gets a 400, with no traceback.
- `/healthz` pings the database (with a timeout) and names what fails.
"""

from __future__ import annotations

import io
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier
from sqlalchemy import text

from bot.slack.payloads import refusal
from bot.store import Storage
from bot.store.migrate import current_revision, head_revision, upgrade

__all__ = ["MAX_BODY_BYTES", "Refusal", "check_health", "read_verified"]

log = logging.getLogger("bot.requests")

# Slack's largest requests (a modal's view submission) are tens of kilobytes.
MAX_BODY_BYTES = 1 << 20
HEALTH_TIMEOUT = 2.0
_pinger = ThreadPoolExecutor(max_workers=1, thread_name_prefix="health")


@dataclass(frozen=True)
class Refusal:
    status: str
    error: str
    body: dict[str, Any] | None = None  # what to answer instead of {"error": error}


def _parsed(body: bytes, content_type: str) -> dict[str, Any] | None:
    """The body as Slack's JSON or form (a payload's JSON for interactions); None when it is
    neither."""
    try:
        if "json" in content_type:
            data = json.loads(body)
            return data if isinstance(data, dict) else None
        form = parse_qs(body.decode("utf-8"), strict_parsing=bool(body))
        payload = form.get("payload")
        if payload is not None:
            data = json.loads(payload[0])
            return data if isinstance(data, dict) else None
        return {key: values[0] for key, values in form.items()} or None
    except (ValueError, UnicodeDecodeError):
        return None


def read_verified(
    environ: dict[str, Any], *, verifier: SignatureVerifier, storage: Storage
) -> Refusal | None:
    """Read and check a POST to /slack/events; None when it may go on to Bolt (its body is
    put back for Bolt to read), else why not."""
    if environ.get("REQUEST_METHOD") != "POST":
        return Refusal("405 Method Not Allowed", "Slack requests are POSTs")
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return Refusal("411 Length Required", "a Content-Length is required")
    if not 0 <= length <= MAX_BODY_BYTES:
        log.info("refused a %d-byte body from %s unread", length, environ.get("REMOTE_ADDR"))
        return Refusal("413 Content Too Large", "request body too large")
    try:
        body = environ["wsgi.input"].read(length)
    except OSError:  # the client went silent (socket timeout) or away
        return Refusal("408 Request Timeout", "the request body did not arrive")
    timestamp = str(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", ""))
    signature = str(environ.get("HTTP_X_SLACK_SIGNATURE", ""))
    if not (
        timestamp.isascii()
        and timestamp.isdigit()
        and signature
        and verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
    ):
        log.info("refused a request with a missing, wrong or stale signature")
        return Refusal("401 Unauthorized", "invalid or stale signature")
    data = _parsed(body, str(environ.get("CONTENT_TYPE", "")))
    if data is None:
        log.info("refused a signed request whose body is not Slack's JSON or form")
        return Refusal("400 Bad Request", "malformed body")
    answer = refusal(data)
    if answer is not None:
        # Signed, but not what Slack sends (a 40-character id, a list for an event…): Bolt's
        # own middleware would trip over it. Acknowledged and dropped; a command is told.
        return Refusal("200 OK", "malformed payload", answer)
    # Events carry an id that is claimed once (a replay is dropped as a redelivery); commands
    # and interactions carry none, so their signature is claimed instead.
    is_event = data.get("type") == "event_callback" and bool(data.get("event_id"))
    if not is_event and not storage.events.claim_signature(signature):
        log.info("refused a replayed request (its signature was already used)")
        return Refusal("401 Unauthorized", "this request was already received")
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return None


def _ping(storage: Storage) -> str:
    with storage.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    if current_revision(storage.engine) != head_revision():
        # A database re-created under a running bot: bring its schema back.
        upgrade(storage.engine)
        log.warning("the database had lost its schema; migrated it again")
    return "ok"


def check_health(storage: Storage, *, timeout: float = HEALTH_TIMEOUT) -> dict[str, str]:
    """The parts a request needs: the index and model (loaded in memory) and the database."""
    parts = {"index": "ok", "model": "ok"}
    try:
        parts["database"] = _pinger.submit(_ping, storage).result(timeout=timeout)
    except FutureTimeout:
        parts["database"] = f"no answer within {timeout:g} s"
    except Exception as exc:  # the class only: a message may carry the database URL
        parts["database"] = f"unreachable ({type(exc).__name__})"
    return parts
