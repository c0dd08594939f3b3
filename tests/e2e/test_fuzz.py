"""Fuzzing the running server with validly signed random payloads: events, slash commands and
interactions, shaped like Slack's but with hostile ids, values and text. None may get a 5xx or
leave a traceback, and the server must stay healthy."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.slack.blocks import (
    ANSWER_FEEDBACK,
    CHECKLIST_SHARE,
    CHECKLIST_TICK,
    FEEDBACK_DOWN,
    FEEDBACK_UP,
    FLAG_GAP,
)
from tests.e2e.conftest import RunningApp
from tests.fake_slack import FakeSlack
from tests.slack_requests import FORM, post

pytestmark = pytest.mark.slow

EXAMPLES = 120  # per kind of request: bounded, and the same examples on every run
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Plausible ids (prefixed, so they never meet another test's channels) and hostile ones.
ids = st.one_of(
    st.from_regex(r"[UCDGW]FZ[A-Z0-9]{1,8}", fullmatch=True),
    st.just("T0001"),
    st.text(max_size=40),
    st.just("U" + "1" * 39),
    st.just("²"),
    st.integers(),
    st.none(),
)
texts = st.one_of(
    st.text(max_size=200),
    st.sampled_from(
        ["<!channel> hi", "help", "list", "on", "off", "status", "daily 09:00", "weekly", "7"]
    ),
    st.just("how do we hire " * 700),
    st.integers(),
    st.none(),
)
stamps = st.one_of(
    st.from_regex(r"\d{10}\.\d{6}", fullmatch=True),
    st.text(max_size=20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.none(),
)
scalars = st.one_of(st.text(max_size=30), st.integers(), st.booleans(), st.none())
# Any JSON value, nested a little.
junk = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


events = st.builds(
    lambda team, event_id, event: _drop_none(
        {"type": "event_callback", "team_id": team, "event_id": event_id, "event": event}
    ),
    ids,
    st.one_of(st.from_regex(r"EvFZ[A-Za-z0-9]{4,12}", fullmatch=True), st.text(max_size=70)),
    st.one_of(
        st.builds(
            lambda kind, user, channel, text, ts, thread_ts, channel_type: _drop_none(
                {
                    "type": kind,
                    "user": user,
                    "channel": channel,
                    "text": text,
                    "ts": ts,
                    "thread_ts": thread_ts,
                    "channel_type": channel_type,
                }
            ),
            st.one_of(
                st.sampled_from(
                    [
                        "message",
                        "app_mention",
                        "app_home_opened",
                        "assistant_thread_started",
                        "assistant_thread_context_changed",
                        "app_uninstalled",
                        "tokens_revoked",
                    ]
                ),
                st.text(max_size=20),
            ),
            ids,
            ids,
            texts,
            stamps,
            st.one_of(st.none(), stamps),
            st.sampled_from(["im", "channel", "group", None]),
        ),
        junk,
    ),
)

commands = st.builds(
    lambda command, team, user, channel, text, url: _drop_none(
        {
            "command": command,
            "team_id": team,
            "user_id": user,
            "channel_id": channel,
            "text": text,
            "response_url": url,
            "trigger_id": "fz",
        }
    ),
    st.one_of(
        st.sampled_from(
            ["/ml-checklist", "/ml-pitfalls", "/ml-digest", "/ml-radar", "/ml-gaps", "/nope"]
        ),
        st.text(max_size=20),
    ),
    ids,
    ids,
    ids,
    texts,
    st.one_of(st.none(), st.text(max_size=40), st.just("http://127.0.0.1:1/")),
)

action_ids = st.one_of(
    st.sampled_from(
        [ANSWER_FEEDBACK, FEEDBACK_UP, FEEDBACK_DOWN, FLAG_GAP, CHECKLIST_TICK, CHECKLIST_SHARE]
    ),
    st.text(max_size=20),
)
values = st.one_of(
    st.sampled_from(["up:1", "down:2", "up:" + "9" * 20, "down:²", "1", "²", "", "share"]),
    st.text(max_size=40),
    st.integers(),
)
block_ids = st.one_of(
    st.sampled_from(["chk|hiring|h1|5", "chk|hiring|h1", "chk|nope|x|99999999999999999999"]),
    st.text(max_size=40),
)
actions = st.builds(
    lambda kind, user, team, channel, items, url: _drop_none(
        {
            "type": kind,
            "user": user,
            "team": team,
            "channel": channel,
            "actions": items,
            "response_url": url,
            "container": {"type": "message", "channel_id": "CFZ1"},
        }
    ),
    st.one_of(st.just("block_actions"), st.sampled_from(["view_submission", "shortcut"]), junk),
    st.one_of(st.builds(lambda i: {"id": i}, ids), ids),
    st.one_of(st.builds(lambda i: {"id": i}, ids), st.none()),
    st.one_of(st.builds(lambda i: {"id": i}, ids), st.none(), junk),
    st.one_of(
        st.lists(
            st.builds(
                lambda a, b, v, options: _drop_none(
                    {"action_id": a, "block_id": b, "value": v, "selected_options": options}
                ),
                action_ids,
                block_ids,
                values,
                st.one_of(st.none(), st.lists(st.builds(lambda v: {"value": v}, values))),
            ),
            max_size=3,
        ),
        junk,
    ),
    st.one_of(st.none(), st.text(max_size=40), st.just("http://127.0.0.1:1/")),
)


def _form(data: dict[str, Any]) -> str:
    return urllib.parse.urlencode({k: str(v) for k, v in data.items()})


def _healthy(app: RunningApp) -> bool:
    with urllib.request.urlopen(app.url + "/healthz", timeout=10) as response:
        return response.status == 200 and json.loads(response.read())["status"] == "ok"


def test_random_signed_events_commands_and_actions_get_no_5xx(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    log_before = len(running_app.log())
    statuses: list[int] = []

    @FUZZ
    @given(body=events)
    def fuzz_events(body: dict[str, Any]) -> None:
        status, _ = post(running_app.events_url, json.dumps(body))
        statuses.append(status)
        assert status < 500, body

    @FUZZ
    @given(body=commands)
    def fuzz_commands(body: dict[str, Any]) -> None:
        status, _ = post(running_app.events_url, _form(body), content_type=FORM)
        statuses.append(status)
        assert status < 500, body

    @FUZZ
    @given(body=actions)
    def fuzz_actions(body: dict[str, Any]) -> None:
        form = urllib.parse.urlencode({"payload": json.dumps(body)})
        status, _ = post(running_app.events_url, form, content_type=FORM)
        statuses.append(status)
        assert status < 500, body

    fuzz_events()
    fuzz_commands()
    fuzz_actions()
    assert len(statuses) >= 3 * EXAMPLES // 2  # hypothesis really sent them
    time.sleep(3)  # background replies to the plausible ones finish
    log = running_app.log()[log_before:]
    assert "Traceback" not in log and "unhandled error" not in log
    assert _healthy(running_app)
