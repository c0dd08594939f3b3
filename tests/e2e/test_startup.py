"""`mlbot serve` refuses to start without its secrets, or with a token Slack rejects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import app_env
from tests.fake_slack import FakeSlack


def run_serve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_secrets_are_named(fake_slack: FakeSlack, tmp_path: Path) -> None:
    env = app_env(fake_slack, tmp_path)
    del env["SLACK_SIGNING_SECRET"]
    done = run_serve(env, "--http", "--port", "0")
    assert done.returncode == 1 and "SLACK_SIGNING_SECRET" in done.stderr
    done = run_serve(app_env(fake_slack, tmp_path), "--socket")
    assert done.returncode == 1 and "SLACK_APP_TOKEN" in done.stderr


def test_rejected_token_fails_fast_with_a_clear_message(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    fake_slack.reset()
    fake_slack.valid_tokens = {"xoxb-the-real-one"}
    try:
        done = run_serve(app_env(fake_slack, tmp_path), "--http", "--port", "0")
    finally:
        fake_slack.valid_tokens = None
    assert done.returncode == 1
    assert "SLACK_BOT_TOKEN was rejected by Slack (invalid_auth)" in done.stderr
    assert [c.method for c in fake_slack.calls()] == ["auth.test"]
