"""OAuth mode end to end: workspaces install through Bolt's real install and redirect paths,
each is answered with its own token, none can touch another's state, and an uninstall stops
service (and digests) for that workspace only. The app runs as a subprocess over signed HTTP
against the fake Web API."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from bot.store import Storage
from bot.store.installations import installed_team_ids
from tests.conftest import private_pg_schema
from tests.e2e.conftest import RunningApp, app_env, free_port, wait_healthy
from tests.e2e.test_slack_app import assert_valid_blocks
from tests.fake_slack import FakeSlack
from tests.slack_requests import FORM, action_body, command_body, dm, event_body, post

pytestmark = pytest.mark.slow

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "oauth-client-secret-value"
TEAMS = ("TALPHA", "TBETA")


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, Message]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), exc.headers


def oauth_env(fake: FakeSlack, data_dir: Path, database_url: str) -> dict[str, str]:
    env = app_env(fake, data_dir, DATABASE_URL=database_url)
    del env["SLACK_BOT_TOKEN"]
    # DEBUG: slack_sdk then logs request and response bodies, the OAuth exchange's included.
    env.update(
        SLACK_CLIENT_ID=CLIENT_ID,
        SLACK_CLIENT_SECRET=CLIENT_SECRET,
        LOG_LEVEL="DEBUG",
        KNOWLEDGE_OWNERS="TALPHA:UOWNER, TBETA:UOWNERB",
    )
    return env


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('oauth') / 'mlbot.sqlite3'}"
        return
    with private_pg_schema() as url:
        yield url


@pytest.fixture(scope="module")
def oauth_app(
    fake_slack: FakeSlack,
    built_data_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    database: str,
) -> Iterator[tuple[RunningApp, str]]:
    database_url = database
    port = free_port()
    log_path = tmp_path_factory.mktemp("oauth-logs") / "app.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--http", "--port", str(port)],
            env=oauth_env(fake_slack, built_data_dir, database_url),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log_path)
        yield RunningApp(url, built_data_dir, process, log_path), database_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def install(app: RunningApp, fake: FakeSlack, team: str) -> str:
    """A person opens /slack/install, approves in "Slack", and lands on the redirect path."""
    status, page, headers = _get(f"{app.url}/slack/install")
    assert status == 200 and "slack.com/oauth/v2/authorize" in page
    state = re.search(r"state=([\w-]+)", page)
    assert state is not None
    cookie = str(headers.get("Set-Cookie", "")).split(";", 1)[0]
    assert cookie.startswith("slack-app-oauth-state="), headers
    before = set(fake.token_teams)
    code = fake.issue_code(team)
    status, page, _ = _get(
        f"{app.url}/slack/oauth_redirect?code={code}&state={state.group(1)}",
        headers={"Cookie": cookie},
    )
    assert status == 200, page
    exchange = [c for c in fake.calls("oauth.v2.access") if c.params.get("code") == code]
    assert len(exchange) == 1
    (token,) = set(fake.token_teams) - before
    return token


@pytest.fixture(scope="module")
def installed(
    oauth_app: tuple[RunningApp, str], fake_slack: FakeSlack
) -> tuple[RunningApp, str, dict[str, str]]:
    app, database_url = oauth_app
    fake_slack.reset()
    tokens = {team: install(app, fake_slack, team) for team in TEAMS}
    assert installed_team_ids(Storage.from_url(database_url).engine) == sorted(TEAMS)
    return app, database_url, tokens


@pytest.fixture
def slack(fake_slack: FakeSlack) -> Iterator[FakeSlack]:
    fake_slack.reset()
    yield fake_slack


def _ask(app: RunningApp, team: str, question: str, channel: str) -> None:
    status, _ = post(app.events_url, event_body(dm(question, channel=channel), team=team))
    assert status == 200


def _post_in(fake: FakeSlack, channel: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [c for c in fake.calls("chat.postMessage") if c.params.get("channel") == channel]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"nothing posted in {channel}")


def test_each_workspace_is_answered_with_its_own_token(
    installed: tuple[RunningApp, str, dict[str, str]], slack: FakeSlack
) -> None:
    app, _, tokens = installed
    for team in TEAMS:
        _ask(app, team, "How do we keep a bad model from hurting users?", f"D{team}")
    for team in TEAMS:
        call = _post_in(slack, f"D{team}")
        assert call.params["token"] == tokens[team]
        assert_valid_blocks(call.params)


def test_feedback_is_stored_and_cannot_reach_another_workspace(
    installed: tuple[RunningApp, str, dict[str, str]], slack: FakeSlack
) -> None:
    app, database_url, _ = installed
    _ask(app, "TALPHA", "Why do we need a feature flag for a model launch?", "DFB")
    answer = _post_in(slack, "DFB")
    actions = [b for b in answer.params["blocks"] if b["type"] == "context_actions"][0]
    buttons = actions["elements"][0]
    answer_id = int(buttons["positive_button"]["value"].split(":")[1])

    def click(team: str, name: str) -> str:
        action = {
            "type": "feedback_buttons",
            "action_id": buttons["action_id"],
            "block_id": actions.get("block_id", "fb"),
            "value": buttons["positive_button"]["value"],
        }
        return _act(app, slack, action, name=f"{team}-{name}", channel="DFB", team=team, user="U7")

    # Another workspace naming this answer's id is told the answer is unknown; nothing stored.
    assert "couldn't find" in click("TBETA", "tamper")
    storage = Storage.from_url(database_url)
    assert storage.answers.feedback(answer_id) == []
    # Its own workspace's click is stored.
    assert "Thanks" in click("TALPHA", "own")
    assert storage.answers.feedback(answer_id) == [("U7", 1)]
    record = storage.answers.answer(answer_id, team_id="TALPHA")
    assert record is not None and record.team_id == "TALPHA"
    assert storage.answers.answer(answer_id, team_id="TBETA") is None


def test_checklist_ticks_are_kept_per_workspace(
    installed: tuple[RunningApp, str, dict[str, str]], slack: FakeSlack
) -> None:
    app, database_url, _ = installed
    tick = {
        "type": "checkboxes",
        "action_id": "checklist_tick",
        "block_id": "chk|hiring|separate-roles",
        "selected_options": [{"value": "separate-roles"}],
    }
    for team, selected in (("TALPHA", True), ("TBETA", False)):
        body = {**tick, "selected_options": tick["selected_options"] if selected else []}
        url = slack.response_url(f"tick-{team}")
        post(
            app.events_url,
            action_body(body, response_url=url, channel="CSHARED", team=team, user="USAME"),
            content_type=FORM,
        )
        slack.wait_for(f"response_url:tick-{team}")
    storage = Storage.from_url(database_url)
    ticks = {
        team: storage.checklists.ticked_items(
            team_id=team, user_id="USAME", channel_id="CSHARED", checklist_id="hiring"
        )
        for team in TEAMS
    }
    # The same user and channel ids in another workspace are other people and places.
    assert ticks == {"TALPHA": {"separate-roles"}, "TBETA": set()}


def test_a_workspace_without_installation_gets_nothing(
    installed: tuple[RunningApp, str, dict[str, str]], slack: FakeSlack
) -> None:
    app, _, _ = installed
    _ask(app, "TNEVER", "How should we hire ML engineers?", "DNEVER")
    status, body = post(
        app.events_url,
        command_body("/ml-checklist", "", response_url=slack.response_url("never"), team="TNEVER"),
        content_type=FORM,
    )
    assert status == 200 and body == ""
    time.sleep(1.5)
    assert [c.method for c in slack.calls()] == []


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _act(app: RunningApp, fake: FakeSlack, action: dict[str, Any], *, name: str, **who: str) -> str:
    """Click ``action`` as ``who`` (channel, team, user); the ephemeral reply's text."""
    status, _ = post(
        app.events_url,
        action_body(action, response_url=fake.response_url(name), **who),
        content_type=FORM,
    )
    assert status == 200
    return str(fake.wait_for(f"response_url:{name}")[0].params["text"])


def _command(app: RunningApp, fake: FakeSlack, team: str, user: str, text: str, name: str) -> str:
    status, body = post(
        app.events_url,
        command_body("/ml-gaps", text, response_url=fake.response_url(name), team=team, user=user),
        content_type=FORM,
    )
    assert status == 200
    return body


def test_owners_see_their_own_workspace_gaps_grouped_and_get_one_weekly_report(
    installed: tuple[RunningApp, str, dict[str, str]],
    slack: FakeSlack,
    fake_slack: FakeSlack,
    built_data_dir: Path,
) -> None:
    app, database_url, tokens = installed
    asked = {
        "UA1": ("TALPHA", "Where can I book a meeting room for Friday?"),
        "UA2": ("TALPHA", "How do I book a meeting room for Friday afternoon?"),
        "UA3": ("TALPHA", "How many vacation days do new hires get?"),
        "UB1": ("TBETA", "What is the parental leave policy in Portugal?"),
    }
    for user, (team, question) in asked.items():
        post(app.events_url, event_body(dm(question, user=user, channel=f"D{user}"), team=team))
    replies = {user: _post_in(slack, f"D{user}").params for user in asked}
    assert all("I don't know" in r["text"] for r in replies.values())
    # UA3 flags the gap; UA4 gets an answer and votes it down.
    flag = [b for b in replies["UA3"]["blocks"] if b["type"] == "actions"][0]["elements"][0]
    _act(app, slack, flag, name="flag", channel="DUA3", team="TALPHA", user="UA3")
    post(
        app.events_url,
        event_body(
            dm("Why launch a model behind a feature flag?", user="UA4", channel="DUA4"),
            team="TALPHA",
        ),
    )
    answered = _post_in(slack, "DUA4").params
    actions = [b for b in answered["blocks"] if b["type"] == "context_actions"][0]
    buttons = actions["elements"][0]
    down = {
        "type": "feedback_buttons",
        "action_id": buttons["action_id"],
        "block_id": actions["block_id"],
        "value": buttons["negative_button"]["value"],
    }
    _act(app, slack, down, name="down", channel="DUA4", team="TALPHA", user="UA4")

    # Not an owner (nor an owner of another workspace): refused, politely.
    assert "for the knowledge base's owners" in _command(app, slack, "TALPHA", "UA1", "", "no")
    assert "owners" in _command(app, slack, "TALPHA", "UOWNERB", "", "no2")
    # The owner's report: the meeting-room questions of two people are one group, and first;
    # nobody is named.
    _command(app, slack, "TALPHA", "UOWNER", "7", "gaps")
    report = slack.wait_for("response_url:gaps")[0].params
    assert_valid_blocks(report)
    text = json.dumps(report, ensure_ascii=False)
    assert not any(user in text for user in asked) and "UA4" not in text
    assert "parental" not in text  # the other workspace's question
    rooms = [b for b in report["blocks"] if "meeting room" in b.get("text", {}).get("text", "")]
    assert len(rooms) == 1 and "2 people asked" in rooms[0]["text"]["text"]
    assert report["blocks"].index(rooms[0]) == 2  # most asked: right after the header lines
    assert "flagged as a gap" in text and "👎" in text

    # The weekly pass: each owner one DM with their workspace's token; a second pass nothing.
    slack.reset()
    env = oauth_env(fake_slack, built_data_dir, database_url)
    today = dt.datetime.now(dt.UTC)
    monday = (today + dt.timedelta(days=7 - today.weekday())).replace(hour=9, minute=30)
    first = _cli(env, "gaps", "--send", "--now", monday.isoformat())
    assert first.returncode == 0 and first.stdout.startswith("sent 2"), first.stderr[-3000:]
    dms = {c.params["channel"]: c.params for c in slack.calls("chat.postMessage")}
    assert set(dms) == {"UOWNER", "UOWNERB"}
    assert dms["UOWNER"]["token"] == tokens["TALPHA"] and dms["UOWNERB"]["token"] == tokens["TBETA"]
    assert "parental" not in json.dumps(dms["UOWNER"]) and "meeting room" not in json.dumps(
        dms["UOWNERB"]
    )
    for message in dms.values():
        assert_valid_blocks(message)
    again = _cli(env, "gaps", "--send", "--now", (monday + dt.timedelta(hours=1)).isoformat())
    assert again.stdout.startswith("sent 0") and len(slack.calls("chat.postMessage")) == 2
    # The terminal shows the same report; --json is the stable contract.
    shown = _cli(env, "gaps", "--json", "--workspace", "TBETA")
    payload = json.loads(shown.stdout)
    assert payload["workspace"] == "TBETA" and payload["groups"][0]["askers"] == 1
    assert "parental" in payload["groups"][0]["examples"][0]


def _tick(env: dict[str, str], now: dt.datetime) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "digest", "tick", "--now", now.isoformat()],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_digests_use_each_workspace_token_and_an_uninstall_stops_only_that_workspace(
    installed: tuple[RunningApp, str, dict[str, str]],
    slack: FakeSlack,
    fake_slack: FakeSlack,
    built_data_dir: Path,
) -> None:
    app, database_url, tokens = installed
    for team in TEAMS:
        url = slack.response_url(f"sub-{team}")
        status, _ = post(
            app.events_url,
            command_body(
                "/ml-digest",
                "subscribe daily 09:00",
                response_url=url,
                channel=f"CDIG{team}",
                team=team,
            ),
            content_type=FORM,
        )
        assert status == 200
        assert "Subscribed" in slack.wait_for(f"response_url:sub-{team}")[0].params["text"]
    # users.info (for the time zone) went out with each workspace's own token.
    assert sorted(c.params["token"] for c in slack.calls("users.info")) == sorted(tokens.values())

    env = oauth_env(fake_slack, built_data_dir, database_url)
    tomorrow = dt.datetime.now(dt.UTC).replace(hour=9, minute=30) + dt.timedelta(days=1)
    result = _tick(env, tomorrow)
    assert result.returncode == 0, result.stderr[-3000:]
    posts = {c.params["channel"]: c.params for c in slack.calls("chat.postMessage")}
    assert {team: posts[f"CDIG{team}"]["token"] for team in TEAMS} == tokens
    for message in posts.values():
        assert_valid_blocks(message)

    # TBETA uninstalls: its installation goes, its digests stop, its DMs get nothing.
    slack.reset()
    status, _ = post(app.events_url, event_body({"type": "app_uninstalled"}, team="TBETA"))
    assert status == 200
    storage = Storage.from_url(database_url)
    deadline = time.monotonic() + 10
    while installed_team_ids(storage.engine) != ["TALPHA"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert installed_team_ids(storage.engine) == ["TALPHA"]
    sub = storage.digests.subscription(team_id="TBETA", channel_id="CDIGTBETA")
    assert sub is not None and not sub.active

    result = _tick(env, tomorrow + dt.timedelta(days=1))
    assert result.returncode == 0, result.stderr[-3000:]
    assert [c.params["channel"] for c in slack.calls("chat.postMessage")] == ["CDIGTALPHA"]

    slack.reset()
    _ask(app, "TBETA", "How should we hire ML engineers?", "DGONE")
    _ask(app, "TALPHA", "How should we hire ML engineers?", "DSTAYS")
    assert _post_in(slack, "DSTAYS").params["token"] == tokens["TALPHA"]
    time.sleep(1)
    assert not [c for c in slack.calls("chat.postMessage") if c.params["channel"] == "DGONE"]


def test_suggested_prompts_are_set_with_the_workspace_token(
    installed: tuple[RunningApp, str, dict[str, str]], slack: FakeSlack
) -> None:
    app, _, tokens = installed
    started = {
        "type": "assistant_thread_started",
        "assistant_thread": {"user_id": "U1", "channel_id": "DAS", "thread_ts": "1.000001"},
    }
    post(app.events_url, event_body(started, team="TALPHA"))
    home = {"type": "app_home_opened", "user": "U1", "channel": "DHOME", "tab": "messages"}
    post(app.events_url, event_body(home, team="TALPHA"))
    calls = slack.wait_for("assistant.threads.setSuggestedPrompts", 2)
    assert {c.params["token"] for c in calls} == {tokens["TALPHA"]}
    assert sorted("thread_ts" in c.params for c in calls) == [False, True]
    for call in calls:
        prompts = call.params["prompts"]
        prompts = json.loads(prompts) if isinstance(prompts, str) else prompts
        assert 3 <= len(prompts) <= 4


def test_a_rotating_token_is_refreshed_through_the_configured_api_before_use(
    installed: tuple[RunningApp, str, dict[str, str]], slack: FakeSlack, fake_slack: FakeSlack
) -> None:
    app, _, _ = installed
    fake_slack.rotating_teams.add("TROT")
    first = install(app, fake_slack, "TROT")
    _ask(app, "TROT", "How should we hire ML engineers?", "DROT")
    call = _post_in(slack, "DROT")
    refreshes = [c for c in slack.calls("oauth.v2.access") if c.params.get("grant_type")]
    assert len(refreshes) == 1 and refreshes[0].params["grant_type"] == "refresh_token"
    assert call.params["token"] != first and call.params["token"].startswith("xoxe.xoxb-TROT")
    # The refreshed token was saved: the next answer uses it with no second refresh.
    _ask(app, "TROT", "Why use a feature flag for a model launch?", "DROT2")
    assert _post_in(slack, "DROT2").params["token"] == call.params["token"]
    assert len([c for c in slack.calls("oauth.v2.access") if c.params.get("grant_type")]) == 1


def test_no_token_or_client_secret_reaches_the_log(
    installed: tuple[RunningApp, str, dict[str, str]],
) -> None:
    app, _, tokens = installed
    log = app.log()
    assert "installed in workspace TALPHA" in log
    assert "oauth.v2.access" in log  # the exchange was logged (at DEBUG), its secrets were not
    for secret in (CLIENT_SECRET, *tokens.values()):
        assert secret not in log
    assert not re.search(r"xox[a-z]-[A-Za-z0-9]", log)
