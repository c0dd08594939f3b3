"""Slack's agent container over signed HTTP: prompts, a title, a status, and the answer."""

from __future__ import annotations

import json

from tests.e2e.conftest import RunningApp
from tests.e2e.test_slack_app import assert_valid_blocks, send_event
from tests.fake_slack import FakeSlack
from tests.slack_requests import dm


def _prompts(params: dict[str, object]) -> list[dict[str, str]]:
    raw = params["prompts"]
    return json.loads(raw) if isinstance(raw, str) else raw  # type: ignore[return-value]


def test_a_new_assistant_thread_gets_prompts_drawn_from_the_knowledge_base(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    started = {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": "U100",
            "channel_id": "D300",
            "thread_ts": "1729999327.187299",
            "context": {},
        },
    }
    assert send_event(running_app, started) == 200
    call = slack.wait_for("assistant.threads.setSuggestedPrompts")[0].params
    assert call["channel_id"] == "D300" and call["thread_ts"] == "1729999327.187299"
    prompts = _prompts(call)
    assert 3 <= len(prompts) <= 4
    assert all(p["title"] and p["message"].endswith("?") for p in prompts)
    # They cover different topics of the knowledge base, not one section four times.
    assert len({p["title"] for p in prompts}) == len(prompts)


def test_a_question_in_the_container_gets_a_title_a_status_then_the_answer(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    question = dm(
        "How do we know a model is ready for production?",
        channel="D301",
        thread_ts="1729999400.000100",
    )
    assert send_event(running_app, question) == 200
    answer = slack.wait_for("chat.postMessage")[0]
    assert answer.params["channel"] == "D301"
    assert answer.params["thread_ts"] == "1729999400.000100"
    assert_valid_blocks(answer.params)
    title = slack.calls("assistant.threads.setTitle")[0]
    assert title.params["title"] == "How do we know a model is ready for production?"
    status = slack.calls("assistant.threads.setStatus")[0]
    assert status.params["status"] and status.at <= answer.at  # shown while it works
    # A follow-up in the same thread keeps the title and uses the thread as context.
    follow_up = dm("And after launch?", channel="D301", thread_ts="1729999400.000100")
    send_event(running_app, follow_up)
    slack.wait_for("chat.postMessage", 2)
    assert len(slack.calls("assistant.threads.setTitle")) == 1
    assert len(slack.calls("assistant.threads.setStatus")) == 2


def test_the_messages_tab_gets_prompts_without_a_thread(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    opened = {"type": "app_home_opened", "user": "U100", "channel": "D302", "tab": "messages"}
    assert send_event(running_app, opened) == 200
    call = slack.wait_for("assistant.threads.setSuggestedPrompts")[0].params
    assert call["channel_id"] == "D302" and "thread_ts" not in call
    assert _prompts(call)
    assert not slack.calls("views.publish")


def test_a_failing_status_call_does_not_cost_the_answer(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    slack.fail_next("assistant.threads.setStatus", status=200, body={"ok": False, "error": "x"})
    send_event(
        running_app,
        dm("Should ML be one central team at 15 people?", channel="D303", thread_ts="1.5"),
    )
    assert slack.wait_for("chat.postMessage")[0].params["channel"] == "D303"
