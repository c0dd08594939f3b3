"""Socket Mode: the app connects to a local WebSocket fake, acks envelopes and answers."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.server import ServerConnection, serve

from tests.e2e.conftest import app_env
from tests.fake_slack import FakeSlack
from tests.slack_requests import dm, event_body

pytestmark = pytest.mark.slow


class SocketFake:
    """Sends ``hello`` and one events_api envelope to each connection; records what comes back."""

    def __init__(self, envelope: dict[str, Any]) -> None:
        self.envelope = envelope
        self.received: list[dict[str, Any]] = []
        self.acked = threading.Event()
        self.server = serve(self._handle, "127.0.0.1", 0)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/link"

    def _handle(self, connection: ServerConnection) -> None:
        connection.send(json.dumps({"type": "hello", "num_connections": 1}))
        connection.send(json.dumps(self.envelope))
        try:
            for raw in connection:
                message = json.loads(raw)
                self.received.append(message)
                if message.get("envelope_id") == self.envelope["envelope_id"]:
                    self.acked.set()
        except Exception:  # the client going away ends the loop
            pass


def test_socket_mode_acks_and_answers(
    fake_slack: FakeSlack, built_data_dir: Path, tmp_path: Path
) -> None:
    fake_slack.reset()
    envelope = {
        "envelope_id": "env-1",
        "type": "events_api",
        "accepts_response_payload": False,
        "payload": json.loads(
            event_body(dm("How should a 10-person startup organise ML?", channel="DSOCK"))
        ),
    }
    socket_fake = SocketFake(envelope)
    socket_fake.thread.start()
    fake_slack.handlers["apps.connections.open"] = lambda params: {
        "ok": True,
        "url": socket_fake.url,
    }
    log_path = tmp_path / "socket.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--socket"],
            env=app_env(fake_slack, built_data_dir, SLACK_APP_TOKEN="xapp-test"),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        assert socket_fake.acked.wait(120), log_path.read_text(errors="replace")
        call = fake_slack.wait_for("chat.postMessage", timeout=30)[0]
        assert call.params["channel"] == "DSOCK"
        assert "Early-Stage Companies" in json.dumps(call.params["blocks"])
        opened = fake_slack.calls("apps.connections.open")[0]
        assert opened.params["token"] == "xapp-test"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        socket_fake.server.shutdown()
        time.sleep(0.1)
