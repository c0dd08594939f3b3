"""Digests: content from a recorded channel history, rotation, and exactly-once posting across
processes on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.digests import DigestService
from bot.pitfalls import PitfallDetector
from bot.settings import Settings
from bot.slack.app import make_web_client
from bot.slack.server import make_digest_service
from bot.store import Storage
from knowledge import load_pitfalls
from tests.e2e.conftest import BOT_TOKEN, app_env
from tests.fake_slack import FakeSlack

UTC = dt.UTC
RUN = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday 09:00 UTC
TEAM = FakeSlack.TEAM_ID


@pytest.fixture(scope="module")
def detector(real_embedder, tmp_path_factory: pytest.TempPathFactory) -> PitfallDetector:  # type: ignore[no-untyped-def]
    return PitfallDetector(
        embedder=real_embedder, pitfalls=load_pitfalls(), cache_dir=tmp_path_factory.mktemp("c")
    )


@pytest.fixture
def slack(fake_slack: FakeSlack) -> Iterator[FakeSlack]:
    fake_slack.reset()
    yield fake_slack


def service(
    slack: FakeSlack, url: str, detector: PitfallDetector | None = None, **kw: object
) -> DigestService:
    settings = Settings(slack_bot_token=BOT_TOKEN, slack_api_url=slack.api_url, **kw)  # type: ignore[arg-type]

    def no_model() -> PitfallDetector:
        raise AssertionError("a quiet channel must not need the model")

    return make_digest_service(
        settings,
        storage=Storage.from_url(url),
        client=make_web_client(settings),
        catalogue=load_pitfalls(),
        detector=(lambda: detector) if detector else no_model,
    )


def message(ts: dt.datetime, text: str, **extra: object) -> dict[str, object]:
    return {"type": "message", "user": "U100", "text": text, "ts": f"{ts.timestamp():.6f}", **extra}


@pytest.mark.slow
def test_digest_counts_pitfalls_links_an_example_and_quotes_advice(
    slack: FakeSlack, tmp_path: Path, detector: PitfallDetector
) -> None:
    pitfalls = load_pitfalls()
    rush = pitfalls.get("expecting-immediate-results")
    flag = pitfalls.get("no-production-safety-net")
    assert rush and flag
    start = RUN - dt.timedelta(days=7)
    history = []
    for i in range(450):  # more than two pages of conversations.history
        history.append(
            message(start + dt.timedelta(minutes=10 * i + 1), f"standup notes {i}: all good")
        )
    history[100] = message(start + dt.timedelta(hours=20), rush.examples[0])
    history[300] = message(start + dt.timedelta(hours=60), rush.examples[1])
    history[200] = message(start + dt.timedelta(hours=40), flag.examples[0])
    # Bots do not count, however risky they sound; neither do messages outside the period.
    history.append(
        message(
            start + dt.timedelta(hours=80), flag.examples[1], bot_id="B1", subtype="bot_message"
        )
    )
    history.append(message(start - dt.timedelta(hours=1), rush.examples[2]))
    slack.history["CDIG"] = sorted(history, key=lambda m: float(str(m["ts"])), reverse=True)
    digests = service(slack, f"sqlite:///{tmp_path / 'db.sqlite3'}", detector)
    digests.subscribe(
        team_id=TEAM, channel_id="CDIG", user_id="U1", tz="UTC", now=start - dt.timedelta(days=1)
    )
    report = digests.tick(now=RUN + dt.timedelta(minutes=1))
    assert report.posted == ["CDIG"]
    assert len(slack.calls("conversations.history")) == 3
    first_page = slack.calls("conversations.history")[0].params
    assert float(first_page["oldest"]) == pytest.approx(start.timestamp())
    post = slack.wait_for("chat.postMessage")[0]
    blocks = json.dumps(post.params["blocks"])
    assert f"*{rush.title}* came up 2 times" in blocks
    assert f"*{flag.title}* came up once" in blocks
    assert "https://test.slack.com/archives/CDIG/p" in blocks
    # The advice that best counters the example, with its short source line.
    assert any(a.quote in blocks and a.section.split(" > ")[-1] in blocks for a in rush.advice)
    assert "Pitfall to watch" in blocks and "For your next review" in blocks
    assert "450 messages read" in blocks


def test_quiet_channel_gets_a_short_digest_and_the_watch_rotates(
    slack: FakeSlack, tmp_path: Path
) -> None:
    digests = service(slack, f"sqlite:///{tmp_path / 'db.sqlite3'}")
    digests.subscribe(
        team_id=TEAM,
        channel_id="CQ",
        user_id="U1",
        cadence="daily",
        tz="Europe/Berlin",
        now=RUN - dt.timedelta(days=2),
    )
    watched = []
    catalogue = load_pitfalls().pitfalls
    for day in range(len(catalogue) + 1):
        report = digests.tick(now=RUN + dt.timedelta(days=day))
        assert report.posted == ["CQ"]
        text = slack.calls("chat.postMessage")[-1].params["text"]
        watched.append(text.split("To watch: ", 1)[1])
    assert "quiet period" in json.dumps(slack.calls("chat.postMessage")[0].params["blocks"])
    assert sorted(watched[:-1]) == sorted(p.title for p in catalogue)
    assert watched[-1] == catalogue[0].title  # a new round starts only after all were shown


def test_preview_records_nothing(slack: FakeSlack, tmp_path: Path) -> None:
    digests = service(slack, f"sqlite:///{tmp_path / 'db.sqlite3'}")
    digests.subscribe(
        team_id=TEAM, channel_id="CP", user_id="U1", tz="UTC", now=RUN - dt.timedelta(days=1)
    )
    first = digests.preview(team_id=TEAM, channel_id="CP", channels=digests.clients(TEAM), now=RUN)
    second = digests.preview(team_id=TEAM, channel_id="CP", channels=digests.clients(TEAM), now=RUN)
    assert first.watch.id == second.watch.id
    assert slack.calls("chat.postMessage") == []
    sub = digests.storage.digests.subscription(team_id=TEAM, channel_id="CP")
    assert sub is not None and json.loads(sub.shown_pitfalls) == []


def test_nothing_is_due_before_the_first_run_after_subscribing(
    slack: FakeSlack, tmp_path: Path
) -> None:
    digests = service(slack, f"sqlite:///{tmp_path / 'db.sqlite3'}")
    digests.subscribe(
        team_id=TEAM, channel_id="CN", user_id="U1", tz="UTC", now=RUN + dt.timedelta(hours=1)
    )
    assert digests.tick(now=RUN + dt.timedelta(hours=2)).posted == []
    assert digests.tick(now=RUN + dt.timedelta(days=7, minutes=1)).posted == ["CN"]
    window = slack.calls("conversations.history")[0].params
    assert float(window["oldest"]) == pytest.approx(RUN.timestamp())  # one week back


def tick_processes(
    env: dict[str, str], count: int, now: dt.datetime
) -> list[subprocess.CompletedProcess[str]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "digest", "tick", "--now", now.isoformat()],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


def test_exactly_once_across_processes_leases_and_repeated_ticks(
    slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    digests = service(slack, database_url, digest_lease_seconds=60)
    channels = ["CX1", "CX2", "CX3"]
    for channel in channels:
        digests.subscribe(
            team_id=TEAM, channel_id=channel, user_id="U1", tz="UTC", now=RUN - dt.timedelta(days=3)
        )
    env = app_env(slack, tmp_path, DATABASE_URL=database_url, DIGEST_LEASE_SECONDS="60")

    # 1. Four tick processes at the same moment: one digest per due subscription.
    results = tick_processes(env, 4, RUN + dt.timedelta(minutes=1))
    assert all(r.returncode == 0 for r in results), [r.stderr[-2000:] for r in results]
    posts = slack.calls("chat.postMessage")
    assert sorted(c.params["channel"] for c in posts) == channels
    assert sum(int(r.stdout.split()[1].rstrip(",")) for r in results) == 3

    # 2. A second tick in the same period posts nothing.
    results = tick_processes(env, 1, RUN + dt.timedelta(minutes=30))
    assert results[0].stdout.startswith("posted 0")
    assert len(slack.calls("chat.postMessage")) == 3

    # 3. A process that died after claiming: its digest waits for the lease, then goes out once.
    week2 = RUN + dt.timedelta(days=7)
    sub = digests.storage.digests.subscription(team_id=TEAM, channel_id="CX1")
    assert sub is not None
    dead = digests.storage.digests.claim_delivery(
        team_id=TEAM,
        subscription_id=sub.id,
        period_key="2026-12-07T09:00Z",
        worker="dead-worker",
        now=week2,
        lease=dt.timedelta(seconds=60),
    )
    assert dead is not None
    first = tick_processes(env, 1, week2 + dt.timedelta(seconds=5))[0]
    assert first.stdout.startswith("posted 2")
    during = tick_processes(env, 1, week2 + dt.timedelta(seconds=30))[0]
    assert during.stdout.startswith("posted 0")
    after = tick_processes(env, 2, week2 + dt.timedelta(seconds=61))
    assert sorted(r.stdout.split(",")[0] for r in after) == ["posted 0", "posted 1"]
    channels_week2 = [c.params["channel"] for c in slack.calls("chat.postMessage")[3:]]
    assert sorted(channels_week2) == channels
    delivery = digests.storage.digests.delivery(sub.id, "2026-12-07T09:00Z")
    assert delivery is not None and delivery.status == "posted" and delivery.message_ts
