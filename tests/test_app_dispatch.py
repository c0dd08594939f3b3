"""Fast in-process tests: BoltRequests dispatched straight into the app (fake embedder)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_bolt.request import BoltRequest

from bot.answers import AnswerService
from bot.pitfalls import PitfallDetector
from bot.services import Services
from bot.settings import Settings
from bot.slack.app import create_app, make_web_client
from bot.slack.deps import BotDeps
from bot.slack.server import make_digest_service
from bot.store import Storage
from index.build import build_index
from index.search import Retriever, Thresholds
from index.store import load_index
from knowledge import load_checklists, load_pitfalls
from tests.fake_slack import FakeSlack
from tests.fakes import HashingEmbedder
from tests.slack_requests import FORM, SECRET, command_body, dm, event_body, sign


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def detector() -> PitfallDetector:
    return PitfallDetector(embedder=HashingEmbedder(), pitfalls=load_pitfalls())


@pytest.fixture
def app_and_storage(
    fake: FakeSlack, knowledge_dir: Path, tmp_path: Path, detector: PitfallDetector
):  # type: ignore[no-untyped-def]
    embedder = HashingEmbedder()
    build_index(knowledge_dir=knowledge_dir, index_dir=tmp_path / "idx", embedder=embedder)
    index = load_index(tmp_path / "idx", model=embedder.name)
    retriever = Retriever(index=index, embedder=embedder, thresholds=Thresholds(0.3, 0.3, 1.0))
    checklists, pitfalls = load_checklists(), load_pitfalls()
    settings = Settings(
        slack_bot_token="xoxb-t",
        slack_signing_secret=SECRET,
        slack_api_url=fake.api_url,
        data_dir=tmp_path,
    )
    services = Services(
        settings=settings,
        embedder=embedder,
        index=index,
        retriever=retriever,
        answers=AnswerService(retriever=retriever, checklists=checklists),
        checklists=checklists,
        pitfalls=pitfalls,
    )
    storage = Storage.from_url(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    client = make_web_client(settings)
    digests = make_digest_service(
        settings, storage=storage, client=client, catalogue=pitfalls, detector=lambda: detector
    )
    deps = BotDeps(services=services, storage=storage, detector=detector, digests=digests)
    return create_app(settings=settings, deps=deps, client=client), storage


def dispatch(
    app, body: str, content_type: str = "application/json", headers: dict[str, str] | None = None
):  # type: ignore[no-untyped-def]
    all_headers = {
        "content-type": [content_type],
        **{k.lower(): [v] for k, v in sign(body).items()},
    }
    for key, value in (headers or {}).items():
        all_headers[key.lower()] = [value]
    return app.dispatch(BoltRequest(body=body, headers=all_headers))


def test_checklist_command_answers_in_the_ack(app_and_storage, fake: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    app, _ = app_and_storage
    response = dispatch(
        app, command_body("/ml-checklist", "evaluation", response_url=fake.response_url()), FORM
    )
    assert response.status == 200
    body = json.loads(response.body)
    assert body["response_type"] == "ephemeral"
    assert any(b.get("accessory", {}).get("type") == "checkboxes" for b in body["blocks"])


def test_bad_head_count_is_explained(app_and_storage, fake: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    app, _ = app_and_storage
    response = dispatch(
        app,
        command_body("/ml-checklist", "team-structure lots", response_url=fake.response_url()),
        FORM,
    )
    assert "head count should be a number" in json.loads(response.body)["text"]


def test_dm_is_answered_and_recorded(app_and_storage, fake: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    app, storage = app_and_storage
    response = dispatch(app, event_body(dm("feature flag safety net for models", channel="DX")))
    assert response.status == 200
    call = fake.wait_for("chat.postMessage")[0]
    assert call.params["channel"] == "DX"
    feedback = [b for b in call.params["blocks"] if b["type"] == "context_actions"][0]
    answer_id = int(feedback["elements"][0]["positive_button"]["value"].removeprefix("up:"))
    assert (
        storage.answers.answer(answer_id, team_id="T0001").question
        == "feature flag safety net for models"
    )


def test_redelivered_event_is_answered_once(app_and_storage, fake: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt
    import time

    app, storage = app_and_storage
    body = event_body(dm("hiring ML engineers", channel="DY"), event_id="EvSame")
    dispatch(app, body)
    fake.wait_for("chat.postMessage")
    assert dispatch(app, body, headers={"X-Slack-Retry-Num": "1"}).status == 200
    time.sleep(0.3)
    assert len(fake.calls("chat.postMessage")) == 1
    # The question's job is its claim: answered, so nothing is left for a later pass.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert storage.jobs.stalled(now=later) == []
    # Other events are claimed by their id.
    home = event_body({"type": "app_home_opened", "user": "U1", "tab": "about"}, event_id="EvHome")
    dispatch(app, home)
    assert storage.events.claim_event("EvHome", team_id="T0001") is False


def test_bad_signature_is_401(app_and_storage) -> None:  # type: ignore[no-untyped-def]
    app, _ = app_and_storage
    body = event_body(dm("hi"))
    request = BoltRequest(
        body=body,
        headers={
            "content-type": ["application/json"],
            "x-slack-signature": ["v0=bad"],
            "x-slack-request-timestamp": ["1"],
        },
    )
    assert app.dispatch(request).status == 401


def test_radar_off_reads_nothing(
    app_and_storage, fake: FakeSlack, detector: PitfallDetector, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    app, storage = app_and_storage
    seen: list[str] = []
    original = detector.detect
    monkeypatch.setattr(detector, "detect", lambda text: seen.append(text) or original(text))
    message = {
        "type": "message",
        "channel_type": "channel",
        "channel": "CR",
        "user": "U1",
        "ts": "1.000001",
    }
    dispatch(app, event_body({**message, "text": "ship the model with no flag tonight"}))
    import time

    time.sleep(0.5)
    assert seen == []
    storage.radar.set_radar(team_id="T0001", channel_id="CR", enabled=True, user_id="U1")
    dispatch(
        app,
        event_body({**message, "ts": "1.000002", "text": "ship the model with no flag tonight"}),
    )
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen == ["ship the model with no flag tonight"]


def test_replies_survive_odd_rate_limits_and_server_errors(
    app_and_storage, fake: FakeSlack
) -> None:  # type: ignore[no-untyped-def]
    import time

    app, _ = app_and_storage
    # A non-numeric Retry-After, an hour-long one (waited 5 s at most), then a 503.
    fake.fail_next("chat.postMessage", status=429, headers={"Retry-After": "soon"})
    fake.fail_next("chat.postMessage", status=429, headers={"Retry-After": "3600"})
    fake.fail_next("chat.postMessage", status=503, body={"ok": False, "error": "unavailable"})
    started = time.monotonic()
    dispatch(app, event_body(dm("feature flag safety net for models", channel="DRETRY")))
    calls = fake.wait_for("chat.postMessage", 4, timeout=30)
    assert time.monotonic() - started < 12
    assert [c.params["channel"] for c in calls] == ["DRETRY"] * 4


def test_transient_ok_false_errors_are_retried_and_lasting_ones_are_not(
    app_and_storage, fake: FakeSlack
) -> None:  # type: ignore[no-untyped-def]
    app, _ = app_and_storage
    # Slack's own passing failures come as HTTP 200 with ok: false: the reply is tried again.
    fake.fail_next("chat.postMessage", body={"ok": False, "error": "internal_error"})
    fake.fail_next("chat.postMessage", body={"ok": False, "error": "service_unavailable"})
    dispatch(app, event_body(dm("feature flag safety net for models", channel="DOKFALSE")))
    calls = fake.wait_for("chat.postMessage", 3, timeout=30)
    assert [c.params["channel"] for c in calls] == ["DOKFALSE"] * 3
    fake.reset()
    # An error that would fail the same way again is not repeated.
    fake.fail_next("chat.postMessage", body={"ok": False, "error": "channel_not_found"})
    dispatch(app, event_body(dm("feature flag safety net for models", channel="DGONE")))
    fake.wait_for("chat.postMessage", 1, timeout=30)
    import time

    time.sleep(1.0)
    assert len(fake.calls("chat.postMessage")) == 1


def test_a_database_error_never_costs_the_answer(
    app_and_storage, fake: FakeSlack, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    app, storage = app_and_storage

    def broken(**_: object) -> int:
        raise RuntimeError("database is down")

    monkeypatch.setattr(storage.answers, "record_answer", broken)
    dispatch(app, event_body(dm("feature flag safety net for models", channel="DDBDOWN")))
    call = fake.wait_for("chat.postMessage")[0]
    assert call.params["channel"] == "DDBDOWN" and "feature flag" in call.params["text"].lower()
    assert not [b for b in call.params["blocks"] if b["type"] == "context_actions"]


def test_a_huge_pasted_plan_is_checked_in_part_and_says_so(
    app_and_storage, fake: FakeSlack
) -> None:  # type: ignore[no-untyped-def]
    app, _ = app_and_storage
    plan = "We ship the model tonight without a feature flag. " + "More detail. " * 1000
    response = dispatch(
        app, command_body("/ml-pitfalls", plan, response_url=fake.response_url("plan")), FORM
    )
    assert response.status == 200
    checked = fake.wait_for("response_url:plan", timeout=30)[0].params
    note = checked["blocks"][0]["elements"][0]["text"]
    assert "so I checked its first 8,000" in note and "13," in note
