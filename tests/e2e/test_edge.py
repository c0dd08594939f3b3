"""The HTTP edge under hostile input: nothing unsigned is read or logged, replays and malformed
bodies are refused cleanly, and health tells the truth."""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.parse
import urllib.request

import pytest

from bot.slack.edge import MAX_BODY_BYTES
from tests.e2e.conftest import RunningApp
from tests.fake_slack import FakeSlack
from tests.slack_requests import FORM, command_body, post, sign

pytestmark = pytest.mark.slow


def _raw(app: RunningApp, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    host, port = urllib.parse.urlsplit(app.url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("POST", "/slack/events", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_an_oversized_body_is_refused_unread(running_app: RunningApp, slack: FakeSlack) -> None:
    # Only the headers are sent: the app must answer from Content-Length alone.
    host, port = urllib.parse.urlsplit(running_app.url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.putrequest("POST", "/slack/events")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(50 * MAX_BODY_BYTES))
    connection.endheaders()
    started = time.monotonic()
    response = connection.getresponse()
    assert response.status == 413 and time.monotonic() - started < 5
    connection.close()
    assert slack.calls() == []


def test_unsigned_and_malformed_bodies_leave_no_trace(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    secret_text = "MY-PRIVATE-PLAN-" + "x" * 50
    unsigned = json.dumps({"type": "event_callback", "event": {"text": secret_text}}).encode()
    assert _raw(running_app, unsigned, {"Content-Type": "application/json"})[0] == 401
    # Validly signed, but not JSON: a 400, not a 500 with a traceback.
    broken = b'{"type": "event_callback", "event": '
    status, body = _raw(
        running_app, broken, {"Content-Type": "application/json", **sign(broken.decode())}
    )
    assert status == 400 and "malformed" in body
    form = b"payload=%7Bnot-json"
    status, _ = _raw(running_app, form, {"Content-Type": FORM, **sign(form.decode())})
    assert status == 400
    time.sleep(0.3)
    log = running_app.log()
    assert secret_text not in log and "Traceback" not in log
    assert slack.calls() == []


def test_idle_and_stalled_connections_hold_no_one_up(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    host, port = urllib.parse.urlsplit(running_app.url).netloc.split(":")
    # 300 connections: half say nothing, half stop in the middle of their headers.
    idle = []
    for number in range(300):
        sock = socket.create_connection((host, int(port)), timeout=30)
        if number % 2:
            sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 90\r\n")
        idle.append(sock)
    try:
        started = time.monotonic()
        body = command_body("/ml-checklist", "", response_url=slack.response_url("idle"))
        status, reply = post(running_app.events_url, body, content_type=FORM)
        assert status == 200 and time.monotonic() - started < 3
        assert json.loads(reply)["response_type"] == "ephemeral"
        # The server closes them after its idle timeout (10 s here) instead of keeping them.
        deadline = time.monotonic() + 25
        for sock in idle:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            assert sock.recv(1024) == b""
    finally:
        for sock in idle:
            sock.close()
    assert (
        json.loads(urllib.request.urlopen(running_app.url + "/healthz", timeout=5).read())["status"]
        == "ok"
    )


def test_a_replayed_slash_command_runs_once(running_app: RunningApp, slack: FakeSlack) -> None:
    body = command_body(
        "/ml-radar", "status", response_url=slack.response_url("replay"), channel="CRP"
    )
    headers = {"Content-Type": FORM, **sign(body)}
    first = _raw(running_app, body.encode(), headers)
    second = _raw(running_app, body.encode(), headers)
    assert first[0] == 200 and "Radar is" in first[1]
    assert second[0] == 401 and "already received" in second[1]


def test_health_reports_each_part(running_app: RunningApp) -> None:
    with urllib.request.urlopen(f"{running_app.url}/healthz", timeout=5) as response:
        payload = json.loads(response.read())
    assert response.status == 200
    assert payload == {"status": "ok", "index": "ok", "model": "ok", "database": "ok"}
    # A GET to the events path is no Slack request.
    assert post(running_app.url + "/slack/events", "", signed=False)[0] in (400, 401)


def _as(app: RunningApp, fake: FakeSlack, user: str, command: str, text: str, channel: str) -> str:
    name = f"{user}-{time.monotonic_ns()}"
    status, body = post(
        app.events_url,
        command_body(
            command, text, response_url=fake.response_url(name), channel=channel, user=user
        ),
        content_type=FORM,
    )
    assert status == 200
    if "One moment" in body:  # answered later, through the response_url
        return str(fake.wait_for(f"response_url:{name}")[0].params["text"])
    return str(json.loads(body)["text"]) if body else ""


def test_channel_settings_belong_to_who_set_them_up(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    slack.users["UADMIN"] = {"is_admin": True}
    # The radar: turning it on is announced in the channel, naming who did it.
    assert "announced" in _as(running_app, slack, "UONE", "/ml-radar", "on", "COWN")
    announced = slack.wait_for("chat.postMessage")[0].params
    assert announced["channel"] == "COWN" and "<@UONE>" in announced["text"]
    assert "turned on by <@UONE>" in _as(running_app, slack, "UTWO", "/ml-radar", "status", "COWN")
    assert "only they or a workspace admin" in _as(
        running_app, slack, "UTWO", "/ml-radar", "off", "COWN"
    )
    assert "Radar off" in _as(running_app, slack, "UADMIN", "/ml-radar", "off", "COWN")
    # The digest: someone else can neither replace nor cancel it; its owner can.
    assert "Subscribed" in _as(running_app, slack, "UONE", "/ml-digest", "subscribe", "COWN")
    assert "set up by <@UONE>" in _as(running_app, slack, "UTWO", "/ml-digest", "status", "COWN")
    assert "only they" in _as(running_app, slack, "UTWO", "/ml-digest", "subscribe daily", "COWN")
    assert "only they" in _as(running_app, slack, "UTWO", "/ml-digest", "unsubscribe", "COWN")
    assert "Unsubscribed" in _as(running_app, slack, "UONE", "/ml-digest", "unsubscribe", "COWN")


def test_radar_stays_off_when_it_cannot_be_announced(
    running_app: RunningApp, slack: FakeSlack
) -> None:
    slack.fail_next("chat.postMessage", body={"ok": False, "error": "not_in_channel"})
    assert "stays off" in _as(running_app, slack, "UONE", "/ml-radar", "on", "CNOTIN")
    assert "Radar is off" in _as(running_app, slack, "UONE", "/ml-radar", "status", "CNOTIN")
