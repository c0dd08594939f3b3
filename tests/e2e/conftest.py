"""The app as a real subprocess in HTTP mode, talking to a fake Slack Web API on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from index.build import build_index
from knowledge import DEFAULT_KNOWLEDGE_DIR
from tests.fake_slack import FakeSlack
from tests.slack_requests import SECRET

BOT_TOKEN = "xoxb-test-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningApp:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def events_url(self) -> str:
        return f"{self.url}/slack/events"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_healthy(
    url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app exited early:\n{log_path.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"app not healthy in {timeout}s:\n{log_path.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def built_data_dir(tmp_path_factory: pytest.TempPathFactory, real_embedder: object) -> Path:
    data = tmp_path_factory.mktemp("data")
    build_index(
        knowledge_dir=DEFAULT_KNOWLEDGE_DIR, index_dir=data / "index", embedder=real_embedder
    )  # type: ignore[arg-type]
    return data


def app_env(fake: FakeSlack, data_dir: Path, **extra: str) -> dict[str, str]:
    # os.environ already carries ONNX_CACHE_DIR (see tests/conftest.py): one export per session.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=fake.api_url,
        DATA_DIR=str(data_dir),
        AUTO_REBUILD="false",
        DIGEST_SCHEDULER="false",
        LOG_LEVEL="INFO",
        **extra,
    )
    return env


@pytest.fixture(scope="session")
def running_app(
    fake_slack: FakeSlack, built_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningApp]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("logs") / "app.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bot.cli",
                "serve",
                "--http",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=app_env(fake_slack, built_data_dir),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log_path)
        yield RunningApp(url=url, data_dir=built_data_dir, process=process, log_path=log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def slack(fake_slack: FakeSlack, running_app: RunningApp) -> Iterator[FakeSlack]:
    """The fake Slack, emptied before each test (the app keeps running)."""
    fake_slack.reset()
    yield fake_slack
