"""Logs never carry a secret: Slack tokens and the configured secrets are masked in every line.

slack_sdk and Bolt log request and response bodies at DEBUG (an OAuth exchange's response
holds the new bot token), and an exception's text may quote a token. The formatter masks the
finished line, traceback included, whatever logged it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

__all__ = ["RedactingFormatter", "redact"]

# Bot, user, app-level, refresh and rotating tokens: xoxb-…, xoxp-…, xapp-…, xoxe-…, xoxe.xoxb-….
_TOKEN = re.compile(r"\b(?:xox[abeoprs](?:\.xox[bp])?|xapp)-[A-Za-z0-9-]{4,}")
MASK = "[redacted]"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return _TOKEN.sub(MASK, text)


class RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, *, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        # Short values would mask ordinary words; real secrets are long.
        self.secrets = tuple(s for s in secrets if len(s) >= 8)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.secrets)
