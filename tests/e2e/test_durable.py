"""Acknowledged questions are never lost: the server is killed (SIGKILL) while Slack refuses
every reply, or in the middle of a burst of DMs, restarted on the same database, and each
acknowledged question then gets exactly one answer. On SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store import Storage
from tests.conftest import private_pg_schema
from tests.e2e.conftest import app_env, free_port, wait_healthy
from tests.fake_slack import FakeSlack
from tests.slack_requests import dm, event_body, post

pytestmark = pytest.mark.slow

QUESTIONS = 8


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'durable.sqlite3'}"
        return
    with private_pg_schema() as url:
        yield url


def _durable_env(fake_slack: FakeSlack, data_dir: Path, database: str) -> dict[str, str]:
    """The server on ``database``, with short leases and one model thread (so a burst's
    answers take long enough to be interrupted)."""
    return app_env(
        fake_slack, data_dir, DATABASE_URL=database, JOB_LEASE_SECONDS="2", MODEL_WORKERS="1"
    )


def _start(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--http", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, process, log)
    return process, url


def test_a_killed_server_answers_every_acknowledged_question_once_after_restart(
    fake_slack: FakeSlack, built_data_dir: Path, tmp_path: Path, database: str
) -> None:
    fake_slack.reset()
    env = _durable_env(fake_slack, built_data_dir, database)
    log = tmp_path / "durable.log"
    process, url = _start(env, log)
    # Slack is down: every reply fails (after the client's retries), so none is delivered.
    fake_slack.fail_next(
        "chat.postMessage", status=503, body={"ok": False, "error": "unavailable"}, times=10_000
    )
    channels = [f"DKILL{i}" for i in range(QUESTIONS)]
    try:
        for channel in channels:
            status, _ = post(
                f"{url}/slack/events",
                event_body(dm("How should we hire ML engineers?", channel=channel)),
            )
            assert status == 200  # acknowledged: from here on it must not be lost
        time.sleep(1.0)  # some replies are being tried (and refused) now
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    pending = Storage.from_url(database).jobs.stalled(now=_far_future())
    assert sorted(pending) and len(pending) == QUESTIONS

    # Slack is back; the server restarts on the same database.
    fake_slack.reset()
    _restart_and_expect_one_reply_each(fake_slack, env, log, channels, database)


BURST = 20


def test_a_server_killed_mid_burst_answers_each_question_exactly_once(
    fake_slack: FakeSlack, built_data_dir: Path, tmp_path: Path, database: str
) -> None:
    fake_slack.reset()
    fake_slack.keep_posts = True  # replies are in the channel's history, as in Slack
    env = _durable_env(fake_slack, built_data_dir, database)
    log = tmp_path / "burst.log"
    process, url = _start(env, log)
    channels = [f"DBURST{i:02d}" for i in range(BURST)]
    statuses: list[int] = []
    barrier = threading.Barrier(BURST)

    def ask(channel: str) -> None:
        barrier.wait(10)
        body = event_body(dm("How do we evaluate a model before launch?", channel=channel))
        statuses.append(post(f"{url}/slack/events", body)[0])

    threads = [threading.Thread(target=ask, args=(c,)) for c in channels]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert statuses == [200] * BURST  # all acknowledged
        # Some answers are out, some are being worked on, the rest wait: kill it now.
        fake_slack.wait_for("chat.postMessage", 2, timeout=30)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    before = Counter(c.params["channel"] for c in fake_slack.calls("chat.postMessage"))
    assert 0 < sum(before.values()) < BURST, "the kill should land in the middle of the burst"

    _restart_and_expect_one_reply_each(fake_slack, env, log, channels, database)


def _restart_and_expect_one_reply_each(
    fake_slack: FakeSlack, env: dict[str, str], log: Path, channels: list[str], database: str
) -> None:
    """Start the server again on the same database: every channel ends with one reply in all
    (counting those posted before the kill), and no job is left."""
    process, _ = _start(env, log)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            delivered = Counter(c.params["channel"] for c in fake_slack.calls("chat.postMessage"))
            if set(delivered) >= set(channels):
                break
            time.sleep(0.2)
        time.sleep(3.0)  # a lease period more: nothing is posted twice
        delivered = Counter(c.params["channel"] for c in fake_slack.calls("chat.postMessage"))
        assert delivered == Counter(channels), log.read_text(errors="replace")[-3000:]
        assert Storage.from_url(database).jobs.stalled(now=_far_future()) == []
    finally:
        process.terminate()
        process.wait(timeout=10)


def _far_future():  # type: ignore[no-untyped-def]
    import datetime as dt

    return dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
