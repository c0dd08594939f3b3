"""End to end: signed HTTP requests into the running app, assertions on recorded Web API calls."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.store import Storage
from knowledge import load_checklists
from tests.e2e.conftest import RunningApp
from tests.fake_slack import FakeSlack
from tests.slack_requests import (
    FORM,
    action_body,
    command_body,
    dm,
    event_body,
    mention,
    post,
    sign,
)

pytestmark = pytest.mark.slow

SPECIAL_MENTIONS = ("<!channel>", "<!here>", "<!everyone>", "<!subteam")


def assert_valid_blocks(message: dict[str, Any]) -> None:
    """What Slack would reject: unknown/invalid blocks, too many, or oversized sections."""
    blocks = message.get("blocks") or []
    assert 0 < len(blocks) <= 50
    for raw in blocks:
        block = Block.parse(raw)
        assert block is not None
        block.validate_json()
        if raw["type"] == "section" and "text" in raw:
            assert len(raw["text"]["text"]) <= 3000
    text = json.dumps(message)
    assert not any(m in text for m in SPECIAL_MENTIONS)


def send_event(app: RunningApp, event: dict[str, Any], **kw: Any) -> int:
    headers = kw.pop("headers", None)
    status, _ = post(app.events_url, event_body(event, **kw), headers=headers)
    return status


def storage(app: RunningApp) -> Storage:
    return Storage.from_url(f"sqlite:///{app.data_dir / 'mlbot.sqlite3'}")


def test_dm_gets_a_quoted_answer_with_sections_highlights_and_feedback(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    assert (
        send_event(running_app, dm("We're 15 people. Should ML be one central team or spread out?"))
        == 200
    )
    call = slack.wait_for("chat.postMessage")[0]
    assert call.params["channel"] == "D100" and "thread_ts" not in call.params
    assert call.params["token"] == "xoxb-test-token"
    assert_valid_blocks(call.params)
    first = call.params["blocks"][0]["text"]["text"]
    assert "Early-Stage Companies (Under 25 Employees)" in first
    assert (
        "*For organizations in their initial phases, establishing a centralized, shared ML team"
        in first
    )
    feedback = [b for b in call.params["blocks"] if b["type"] == "context_actions"][0]
    [buttons] = feedback["elements"]
    assert buttons["type"] == "feedback_buttons" and buttons["action_id"] == "answer_feedback"
    assert "/ml-checklist team-structure" in json.dumps(call.params["blocks"])


def test_answers_come_first_whole_lists_and_the_stage_a_head_count_names(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    send_event(
        running_app, dm("We're about 60 engineers; central team or embedded?", channel="D160")
    )
    send_event(
        running_app, dm("What are the most common mistakes leaders make with ML?", channel="D161")
    )
    calls = {c.params["channel"]: c.params for c in slack.wait_for("chat.postMessage", 2)}
    stage, mistakes = calls["D160"], calls["D161"]
    for message in (stage, mistakes):
        assert_valid_blocks(message)
        first = message["blocks"][0]["text"]["text"]
        assert first.startswith("> ")  # the quote first: no title, no preamble
        assert "Machine Learning for Leaders" not in first
        footers = [b for b in message["blocks"] if b["type"] == "context"]
        assert "From _Machine Learning for Leaders: 5 Essentials to Know_" in json.dumps(
            footers[-1]
        )
    assert "Mid-Stage Companies (25-500 Employees)" in stage["blocks"][0]["text"]["text"]
    assert stage["text"].startswith("As companies mature into the mid-stage")
    assert "Under 25" not in json.dumps(stage["blocks"])
    listed = mistakes["blocks"][0]["text"]["text"]
    assert listed.startswith("> Avoid the following:")
    assert listed.count("\n> • ") == 4  # all four mistakes, as a list


def test_mention_is_answered_in_its_thread_and_follow_up_uses_context(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    root = "1700000100.000100"
    send_event(
        running_app, mention("How do we know a model is ready to launch?", ts=root, channel="C200")
    )
    answer = slack.wait_for("chat.postMessage")[0]
    assert answer.params["channel"] == "C200" and answer.params["thread_ts"] == root
    assert_valid_blocks(answer.params)
    # A plain reply in that thread (no mention) is a follow-up.
    follow = {
        "type": "message",
        "channel_type": "channel",
        "channel": "C200",
        "user": "U100",
        "text": "and how do we switch it off quickly if it misbehaves?",
        "ts": "1700000101.000100",
        "thread_ts": root,
    }
    send_event(running_app, follow)
    second = slack.wait_for("chat.postMessage", 2)[1]
    assert second.params["thread_ts"] == root
    assert "feature flag" in second.params["blocks"][0]["text"]["text"]


def test_channel_messages_outside_bot_threads_are_ignored(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    chatter = {
        "type": "message",
        "channel_type": "channel",
        "channel": "C300",
        "user": "U100",
        "text": "lunch?",
        "ts": "1700000200.000100",
    }
    send_event(running_app, chatter)
    elsewhere = {
        **chatter,
        "ts": "1700000201.000100",
        "thread_ts": "1690000000.000100",
        "text": "in some thread",
    }
    send_event(running_app, elsewhere)
    send_event(running_app, dm("marker question about hiring ML engineers", channel="D999"))
    slack.wait_for("chat.postMessage")
    time.sleep(0.5)
    assert [c.params["channel"] for c in slack.calls("chat.postMessage")] == ["D999"]


def test_bot_messages_and_own_messages_are_ignored(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    send_event(running_app, dm("How should we hire?", bot_id="B999", subtype="bot_message"))
    send_event(running_app, dm("How should we hire?", user="UBOT"))
    send_event(running_app, dm("edited", subtype="message_changed"))
    send_event(running_app, dm("marker: how do we hire ML engineers?", channel="D998"))
    slack.wait_for("chat.postMessage")
    time.sleep(0.5)
    assert [c.params["channel"] for c in slack.calls("chat.postMessage")] == ["D998"]


def test_retried_event_is_answered_once(running_app: RunningApp, slack: FakeSlack) -> None:
    event = dm("What mistakes should we avoid with ML?", channel="D500")
    assert send_event(running_app, event, event_id="EvRetry1") == 200
    retry_headers = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert send_event(running_app, event, event_id="EvRetry1", headers=retry_headers) == 200
    slack.wait_for("chat.postMessage")
    time.sleep(1.0)
    assert len(slack.calls("chat.postMessage")) == 1


def test_forged_and_stale_requests_are_rejected_without_side_effects(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    body = event_body(dm("forged question about hiring"))
    forged = sign(body, secret="not-the-secret")
    assert post(running_app.events_url, body, headers=forged, signed=False)[0] == 401
    stale = sign(body, timestamp=int(time.time()) - 6 * 60)
    assert post(running_app.events_url, body, headers=stale, signed=False)[0] == 401
    assert post(running_app.events_url, body, signed=False)[0] == 401
    time.sleep(0.5)
    assert slack.calls("chat.postMessage") == []


def test_out_of_domain_question_says_so_and_offers_topics(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    send_event(running_app, dm("What's the wifi password in the Berlin office?"))
    call = slack.wait_for("chat.postMessage")[0]
    assert_valid_blocks(call.params)
    text = json.dumps(call.params["blocks"])
    assert "I don't know" in text and "nearest topics" in text
    assert "> " not in call.params["blocks"][0]["text"]["text"]  # nothing quoted


def test_mention_injection_never_pings_anyone(running_app: RunningApp, slack: FakeSlack) -> None:
    send_event(
        running_app,
        mention("<!channel> <!here> @everyone how do we hire <@U777>? & <b>", channel="C400"),
    )
    call = slack.wait_for("chat.postMessage")[0]
    assert_valid_blocks(call.params)
    status, body = post(
        running_app.events_url,
        command_body("/ml-checklist", "<!channel>", response_url=slack.response_url()),
        content_type=FORM,
    )
    assert status == 200
    assert "&lt;!channel&gt;" in body and "<!channel>" not in body


def test_empty_mention_gets_a_friendly_prompt(running_app: RunningApp, slack: FakeSlack) -> None:
    send_event(running_app, mention("   ", channel="C401"))
    call = slack.wait_for("chat.postMessage")[0]
    assert "Ask me a question" in call.params["text"]


def test_checklist_topics_unknown_topic_and_interactive_checklist(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    url = slack.response_url()
    status, body = post(
        running_app.events_url,
        command_body("/ml-checklist", "", response_url=url),
        content_type=FORM,
    )
    topics = json.loads(body)
    assert status == 200 and topics["response_type"] == "ephemeral"
    assert_valid_blocks(topics)
    for topic in ("hiring", "team-structure", "pipeline", "evaluation", "pitfalls"):
        assert f"`{topic}`" in json.dumps(topics)
    _, body = post(
        running_app.events_url,
        command_body("/ml-checklist", "recipes", response_url=url),
        content_type=FORM,
    )
    unknown = json.loads(body)
    assert "I don't have a checklist called `recipes`" in json.dumps(
        unknown
    ) and "`hiring`" in json.dumps(unknown)
    _, body = post(
        running_app.events_url,
        command_body("/ml-checklist", "team-structure 120", response_url=url),
        content_type=FORM,
    )
    team = json.loads(body)
    assert_valid_blocks(team)
    assert "Mid stage" in json.dumps(team)
    checkboxes = [b for b in team["blocks"] if b.get("accessory", {}).get("type") == "checkboxes"]
    assert len(checkboxes) >= 4


def test_checkbox_ticks_persist_per_person_and_channel(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    url = slack.response_url("tick")
    _, body = post(
        running_app.events_url,
        command_body("/ml-checklist", "hiring", response_url=url, channel="C600"),
        content_type=FORM,
    )
    assert "0 of" in body
    block = [
        b for b in json.loads(body)["blocks"] if b.get("accessory", {}).get("type") == "checkboxes"
    ][0]
    option = block["accessory"]["options"][0]
    tick = {
        "type": "checkboxes",
        "action_id": "checklist_tick",
        "block_id": block["block_id"],
        "selected_options": [option],
    }
    assert (
        post(
            running_app.events_url,
            action_body(tick, response_url=url, channel="C600"),
            content_type=FORM,
        )[0]
        == 200
    )
    # The checklist is redrawn in place at once, its progress counting the tick.
    redraw = slack.wait_for("response_url:tick")[0].params
    assert redraw["replace_original"] is True
    assert_valid_blocks(redraw)
    assert "1 of" in json.dumps(redraw)
    redrawn = [b for b in redraw["blocks"] if b.get("block_id") == block["block_id"]][0]
    assert redrawn["accessory"]["initial_options"] == [option]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _, body = post(
            running_app.events_url,
            command_body("/ml-checklist", "hiring", response_url=url, channel="C600"),
            content_type=FORM,
        )
        again = [b for b in json.loads(body)["blocks"] if b.get("block_id") == block["block_id"]][0]
        if again["accessory"].get("initial_options"):
            break
        time.sleep(0.2)
    assert again["accessory"]["initial_options"] == [option]
    assert "1 of" in body
    # Another person, or the same person in another channel, starts fresh.
    _, other = post(
        running_app.events_url,
        command_body("/ml-checklist", "hiring", response_url=url, user="U200", channel="C600"),
        content_type=FORM,
    )
    _, elsewhere = post(
        running_app.events_url,
        command_body("/ml-checklist", "hiring", response_url=url, channel="C601"),
        content_type=FORM,
    )
    assert "initial_options" not in other and "initial_options" not in elsewhere
    # Unticking is saved too.
    untick = {**tick, "selected_options": []}
    post(
        running_app.events_url,
        action_body(untick, response_url=url, channel="C600"),
        content_type=FORM,
    )
    time.sleep(0.5)
    assert (
        storage(running_app).checklists.ticked_items(
            team_id="T0001", user_id="U100", channel_id="C600", checklist_id="hiring"
        )
        == set()
    )


def test_share_checklist_posts_to_channel(running_app: RunningApp, slack: FakeSlack) -> None:
    share = {
        "type": "button",
        "action_id": "checklist_share",
        "block_id": "checklist_actions",
        "value": "pipeline|",
    }
    post(
        running_app.events_url,
        action_body(share, response_url=slack.response_url("share"), channel="C700"),
        content_type=FORM,
    )
    call = slack.wait_for("chat.postMessage")[0]
    assert call.params["channel"] == "C700"
    assert_valid_blocks(call.params)
    assert "Shared by <@U100>" in json.dumps(call.params["blocks"])
    slack.fail_next("chat.postMessage", body={"ok": False, "error": "not_in_channel"})
    post(
        running_app.events_url,
        action_body(share, response_url=slack.response_url("share2"), channel="C701"),
        content_type=FORM,
    )
    reply = slack.wait_for("response_url:share2")[0]
    assert "Invite me" in reply.params["text"]


def test_feedback_is_stored_with_question_and_passages(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    send_event(
        running_app, dm("Is it realistic to expect ML results within a month?", channel="D800")
    )
    answer = slack.wait_for("chat.postMessage")[0]
    feedback = [b for b in answer.params["blocks"] if b["type"] == "context_actions"][0]
    buttons = feedback["elements"][0]

    def click(button: str, name: str) -> dict[str, Any]:
        action = {
            "type": "feedback_buttons",
            "action_id": buttons["action_id"],
            "block_id": feedback["block_id"],
            "value": buttons[button]["value"],
        }
        post(
            running_app.events_url,
            action_body(action, response_url=slack.response_url(name), channel="D800"),
            content_type=FORM,
        )
        return slack.wait_for(f"response_url:{name}")[0].params

    assert "Thanks" in click("negative_button", "fb")["text"]
    answer_id = int(buttons["negative_button"]["value"].split(":")[1])
    store = storage(running_app)
    assert store.answers.feedback(answer_id) == [("U100", -1)]
    record = store.answers.answer(answer_id, team_id="T0001")
    assert record is not None and "ML results" in record.question
    assert json.loads(record.passages_json)[0]["section"]
    assert record.message_ts == answer.params.get("ts") or record.message_ts
    # The buttons toggle: the last click wins.
    assert "glad" in click("positive_button", "fb2")["text"]
    assert store.answers.feedback(answer_id) == [("U100", 1)]
    # An older 👍/👎 message still counts, and a made-up value changes nothing.
    old = {"type": "button", "action_id": "answer_feedback_down", "value": str(answer_id)}
    post(
        running_app.events_url,
        action_body(old, response_url=slack.response_url("fb3"), channel="D800"),
        content_type=FORM,
    )
    slack.wait_for("response_url:fb3")
    assert store.answers.feedback(answer_id) == [("U100", -1)]
    forged = {**buttons, "type": "feedback_buttons", "value": "up:99999999999999999999"}
    post(
        running_app.events_url,
        action_body(forged, response_url=slack.response_url("fb4"), channel="D800"),
        content_type=FORM,
    )
    time.sleep(0.5)
    assert not slack.calls("response_url:fb4")
    assert store.answers.feedback(answer_id) == [("U100", -1)]


def test_a_not_covered_reply_offers_to_flag_the_gap(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    send_event(running_app, dm("What's the wifi password on the third floor?", channel="D810"))
    reply = slack.wait_for("chat.postMessage")[0].params
    assert_valid_blocks(reply)
    assert "I don't know" in reply["text"]
    assert not [b for b in reply["blocks"] if b["type"] == "context_actions"]  # nothing to rate
    flag = [b for b in reply["blocks"] if b["type"] == "actions"][0]["elements"][0]
    assert flag["action_id"] == "flag_gap"
    post(
        running_app.events_url,
        action_body(flag, response_url=slack.response_url("gap"), channel="D810"),
        content_type=FORM,
    )
    assert "doesn't cover this yet" in slack.wait_for("response_url:gap")[0].params["text"]
    assert storage(running_app).answers.feedback(int(flag["value"])) == [("U100", 0)]


def test_ml_pitfalls_catalogue_and_plan_check(running_app: RunningApp, slack: FakeSlack) -> None:
    _, body = post(
        running_app.events_url,
        command_body("/ml-pitfalls", "", response_url=slack.response_url()),
        content_type=FORM,
    )
    catalogue = json.loads(body)
    assert_valid_blocks(catalogue)
    for pid_title in (
        "Using ML for a simple, linear process",
        "Expecting immediate results from ML",
    ):
        assert pid_title in json.dumps(catalogue)
    assert len(catalogue["blocks"]) <= 4  # one screen; details on demand
    # A pitfall's id shows its details at once, in the ack, with no model work.
    _, body = post(
        running_app.events_url,
        command_body(
            "/ml-pitfalls", "no-production-safety-net", response_url=slack.response_url("one")
        ),
        content_type=FORM,
    )
    details = json.loads(body)
    assert_valid_blocks(details)
    shown = json.dumps(details, ensure_ascii=False)
    assert "Why it matters" in shown and "feature flag" in shown
    assert not slack.calls("response_url:one")
    plan = (
        "Plan: we train the churn model this week and promise the board a 30% drop in churn "
        "by next Friday. We'll judge success purely on AUC."
    )
    status, body = post(
        running_app.events_url,
        command_body("/ml-pitfalls", plan, response_url=slack.response_url("plan")),
        content_type=FORM,
    )
    assert status == 200 and "Checking" in body
    result = slack.wait_for("response_url:plan")[0]
    assert_valid_blocks(result.params)
    shown = json.dumps(result.params["blocks"], ensure_ascii=False)
    assert "Expecting immediate results" in shown
    # The sentence of the plan that shows the pitfall is quoted back; no scores are shown.
    assert "Spotted in: “Plan: we train the churn model this week and promise the board" in shown
    assert "match" not in shown and "0." not in shown


def test_rate_limited_post_is_retried_once_and_delivered(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    slack.fail_next("chat.postMessage", status=429, headers={"Retry-After": "1"})
    send_event(running_app, dm("How should we evaluate a model before launch?", channel="D900"))
    calls = slack.wait_for("chat.postMessage", 2, timeout=30)
    assert calls[1].at - calls[0].at >= 0.9
    time.sleep(0.5)
    assert len(slack.calls("chat.postMessage")) == 2


def test_concurrent_questions_each_get_exactly_one_answer(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    questions = [
        "How do we hire ML people?",
        "What share of engineers should do ML at a startup?",
        "Should we use feature flags for models?",
        "Which ML platforms save time?",
        "How do we measure model success?",
        "What pitfalls should we avoid?",
        "How should a 1000-person company organise ML?",
        "Can backend engineers learn ML?",
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(
                lambda iq: send_event(running_app, dm(iq[1], channel=f"DC{iq[0]}")),
                enumerate(questions),
            )
        )
    assert statuses == [200] * len(questions)
    calls = slack.wait_for("chat.postMessage", len(questions), timeout=60)
    time.sleep(0.5)
    channels = sorted(c.params["channel"] for c in slack.calls("chat.postMessage"))
    assert channels == sorted(f"DC{i}" for i in range(len(questions)))
    for call in calls:
        assert_valid_blocks(call.params)


def test_healthz_and_unknown_paths(running_app: RunningApp) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{running_app.url}/healthz") as response:
        assert response.status == 200 and json.loads(response.read())["status"] == "ok"
    status, _ = post(f"{running_app.url}/nope", "{}")
    assert status == 404


def _command(
    app: RunningApp, slack: FakeSlack, command: str, text: str, channel: str, name: str = "r"
) -> dict[str, Any]:
    status, body = post(
        app.events_url,
        command_body(command, text, response_url=slack.response_url(name), channel=channel),
        content_type=FORM,
    )
    assert status == 200
    return json.loads(body) if body else {}


def test_radar_nudges_privately_once_per_pitfall_per_day_and_is_off_by_default(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    risky = (
        "No need for a feature flag or a rollback plan, "
        "we'll ship the new pricing model to 100% of users tonight."
    )
    channel_message = {
        "type": "message",
        "channel_type": "channel",
        "channel": "CRADAR",
        "user": "U100",
        "text": risky,
    }
    send_event(running_app, {**channel_message, "ts": "1700001000.000100"})
    time.sleep(1.0)
    assert slack.calls("chat.postEphemeral") == []  # off by default
    reply = _command(running_app, slack, "/ml-radar", "on", "CRADAR")
    assert "Radar on" in reply["text"]
    send_event(running_app, {**channel_message, "ts": "1700001001.000100"})
    nudge = slack.wait_for("chat.postEphemeral")[0]
    assert nudge.params["channel"] == "CRADAR" and nudge.params["user"] == "U100"
    assert_valid_blocks(nudge.params)
    assert "Friendly heads-up" in json.dumps(nudge.params["blocks"])
    send_event(running_app, {**channel_message, "user": "U200", "ts": "1700001002.000100"})
    time.sleep(1.5)
    assert len(slack.calls("chat.postEphemeral")) == 1  # same pitfall, same channel, same day
    assert "Radar off" in _command(running_app, slack, "/ml-radar", "off", "CRADAR")["text"]
    assert "Radar is off" in _command(running_app, slack, "/ml-radar", "status", "CRADAR")["text"]


def test_digest_commands_subscribe_status_preview_unsubscribe(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    slack.users["U100"] = {"tz": "Europe/Berlin"}
    assert (
        "One moment"
        in _command(running_app, slack, "/ml-digest", "subscribe daily 08:30", "CDG", "sub")["text"]
    )
    done = slack.wait_for("response_url:sub")[0]
    assert "every day at 08:30 (Europe/Berlin)" in done.params["text"]
    assert slack.calls("users.info")[0].params["user"] == "U100"
    status = _command(running_app, slack, "/ml-digest", "status", "CDG")["text"]
    assert "every day at 08:30 (Europe/Berlin)" in status and "none sent yet" in status
    _command(running_app, slack, "/ml-digest", "preview", "CDG", "prev")
    preview = slack.wait_for("response_url:prev")[0]
    assert preview.params["response_type"] == "ephemeral"
    assert_valid_blocks(preview.params)
    assert "Pitfall to watch" in json.dumps(preview.params["blocks"])
    assert slack.calls("chat.postMessage") == []
    assert (
        "time of day"
        in _command(running_app, slack, "/ml-digest", "subscribe at-noon", "CDG")["text"]
    )
    assert (
        "Unsubscribed" in _command(running_app, slack, "/ml-digest", "unsubscribe", "CDG")["text"]
    )
    assert "No digest here" in _command(running_app, slack, "/ml-digest", "status", "CDG")["text"]
    assert "Usage" in _command(running_app, slack, "/ml-digest", "sideways", "CDG")["text"]


def test_app_home_shows_progress_subscriptions_and_how_to_ask(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    store = storage(running_app)
    store.checklists.set_tick(
        team_id="T0001",
        user_id="UHOME",
        channel_id="CH1",
        checklist_id="hiring",
        item_id="separate-roles",
        ticked=True,
    )
    import datetime as dt

    store.digests.upsert_subscription(
        team_id="T0001",
        channel_id="CH2",
        cadence="weekly",
        at_time="09:00",
        weekday=0,
        tz="UTC",
        created_by="UHOME",
        now=dt.datetime.now(dt.UTC),
    )
    send_event(
        running_app, {"type": "app_home_opened", "user": "UHOME", "channel": "DHOME", "tab": "home"}
    )
    call = slack.wait_for("views.publish")[0]
    view = (
        call.params["view"]
        if isinstance(call.params["view"], dict)
        else json.loads(call.params["view"])
    )
    assert call.params["user_id"] == "UHOME" and view["type"] == "home"
    assert_valid_blocks(view)
    text = json.dumps(view)
    title = load_checklists().get("hiring").title  # type: ignore[union-attr]
    assert f"<#CH1> *{title}*: 1 of" in text and "<#CH2>: every Monday at 09:00 (UTC)" in text
    assert "`hiring`" not in text  # the title, not the id
    assert "DM me" in text
