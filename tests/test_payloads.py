"""Payloads are checked at the edge: what Slack sends passes, what it never sends is named."""

from __future__ import annotations

import json
import urllib.parse

from bot.slack.payloads import check_payload
from tests.slack_requests import action_body, command_body, dm, event_body

URL = "https://hooks.slack.com/commands/T0001/1/x"


def _form(body: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(body))


def _action(body: str) -> dict[str, object]:
    return json.loads(_form(body)["payload"])


def test_what_slack_sends_passes() -> None:
    assert check_payload(json.loads(event_body(dm("How do we hire?")))) == []
    assert (
        check_payload(_form(command_body("/ml-pitfalls", "ship it tonight", response_url=URL)))
        == []
    )
    assert check_payload({"type": "url_verification", "challenge": "x"}) == []
    # Events whose user is an object (user_change) are not ours to check.
    body = json.loads(event_body({"type": "user_change", "user": {"id": "U1"}}))
    assert check_payload(body) == []


def test_ids_and_values_slack_never_sends_are_named() -> None:
    long_user = json.loads(event_body(dm("hello", user="U" + "1" * 39)))
    assert check_payload(long_user) == ["event.user"]
    odd_ts = json.loads(event_body({**dm("hello"), "thread_ts": "²"}))
    assert check_payload(odd_ts) == ["event.thread_ts"]
    command = _form(command_body("/ml-radar", "on", response_url=URL))
    assert check_payload({**command, "channel_id": "c; drop table"}) == ["channel_id"]
    assert check_payload({**command, "text": "x" * 40_001}) == ["text"]
    assert check_payload({k: v for k, v in command.items() if k != "user_id"}) == ["user_id"]


def test_actions_need_a_user_and_at_least_one_action() -> None:
    from bot.slack.blocks import ANSWER_FEEDBACK

    action = {"action_id": ANSWER_FEEDBACK, "block_id": "fb", "value": "up:12"}
    body = _action(action_body(action, response_url=URL))
    assert check_payload(body) == []
    assert check_payload({**body, "actions": []}) == ["actions"]
    assert check_payload({**body, "user": {"id": 12}}) == ["user.id"]
    assert check_payload({**body, "user": "U1"}) == ["user"]
