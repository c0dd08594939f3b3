"""Index build: passages per second of ``build_index`` and its peak memory, vs raw encoding.

Everything runs in one child process (``python -m bench.build``): the configured embedder is
loaded, ``build_index`` runs and the process's peak resident memory is read (``ru_maxrss``,
model included, as `mlbot index build` would use); then, in the same process with the same warm
model, raw batched ``embedder.encode`` runs over a sample of the same passage texts (the floor)
and over a sample of all the texts the build embedded. The index and the measurements are
cached in bench/.data, keyed by corpus, embedding backend and the source of the code that
builds, so a rerun reuses them until that code or the corpus changes (``--rebuild`` forces).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.common import DATA_DIR, PROJECT_DIR, child_env, fingerprint, log
from bench.corpus import Corpus

__all__ = ["BuildResult", "ensure_index"]

# Source files whose behaviour a built index depends on: any change invalidates the cache.
_BUILD_SOURCES = (
    "build.py",
    "documents.py",
    "embedder.py",
    "onnx_embedder.py",
    "store.py",
    "text.py",
    "vectors.py",
)


@dataclass(frozen=True)
class BuildResult:
    backend: str
    passages: int
    keys: int
    sentences: int
    unique_texts: int
    seconds: float
    model_load_seconds: float
    rss_after_model_mb: float
    peak_rss_mb: float
    index_kind: str
    encode_sample: int
    # Encoding ``encode_sample`` passage texts: the mean of a run just before the build and one
    # just after it (the machine's speed drifts by a few percent over minutes; a single
    # measurement after the build moved the ratio between runs by up to 0.07).
    raw_passage_seconds: float
    raw_embedded_seconds: float  # encoding ``encode_sample`` of the texts the build embedded
    measured_at: str
    cached: bool = False
    phases: dict[str, float] = field(default_factory=dict)
    raw_passage_seconds_runs: tuple[float, ...] = ()

    @property
    def passages_per_second(self) -> float:
        return self.passages / self.seconds

    @property
    def raw_passages_per_second(self) -> float:
        return min(self.encode_sample, self.passages) / self.raw_passage_seconds

    @property
    def raw_embedded_per_second(self) -> float:
        return min(self.encode_sample, self.unique_texts) / self.raw_embedded_seconds


def _index_key(corpus: Corpus, backend: str, encode_sample: int) -> str:
    sources = [PROJECT_DIR / "index" / name for name in _BUILD_SOURCES]
    return fingerprint(corpus.key, backend, encode_sample, *sources, Path(__file__))


def ensure_index(
    corpus: Corpus,
    *,
    backend: str,
    encode_sample: int,
    rebuild: bool = False,
    timeout: float = 6 * 3600,
) -> tuple[Path, BuildResult]:
    """Build the corpus's index in a child process, or reuse the cached build and measurement."""
    index_dir = DATA_DIR / f"index-{corpus.passages}-s{corpus.seed}-{backend}"
    result_path = index_dir / "bench-build.json"
    key = _index_key(corpus, backend, encode_sample)
    if not rebuild and result_path.is_file() and (index_dir / "CURRENT").is_file():
        saved = json.loads(result_path.read_text())
        if saved.get("key") == key:
            log(f"reusing the index built {saved['result']['measured_at']} at {index_dir}")
            return index_dir, BuildResult(**{**saved["result"], "cached": True})
    # No stale measurement may outlive this build; the index itself is replaced atomically by
    # build_index (the previous build stays until the new one is published).
    result_path.unlink(missing_ok=True)
    log(
        f"building the index of {corpus.passages:,} passages ({backend}) in a child process, "
        f"then encoding {encode_sample:,}-text samples raw"
    )
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        out = Path(tmp) / "result.json"
        command = [
            sys.executable,
            "-m",
            "bench.build",
            "--knowledge",
            str(corpus.root),
            "--index",
            str(index_dir),
            "--out",
            str(out),
            "--sample",
            str(encode_sample),
        ]
        if sys.stderr.isatty():
            command.append("--progress")
        subprocess.run(command, env=child_env(), cwd=tmp, check=True, timeout=timeout)
        result = BuildResult(**json.loads(out.read_text()))
    if result.backend != backend:
        raise RuntimeError(f"the build child used backend {result.backend!r}, not {backend!r}")
    result_path.write_text(json.dumps({"key": key, "result": asdict(result)}, indent=2) + "\n")
    return index_dir, result


def _embedded_texts(build_path: Path) -> tuple[list[str], list[str]]:
    """The passage texts, and the unique texts the build ran through the model (passages and
    hint questions; sentence vectors are pooled from their passage's forward pass)."""
    unique: dict[str, None] = {}
    passage_texts: list[str] = []
    with (build_path / "passages.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            data = json.loads(line)
            passage_texts.append(data["text"])
            unique.update(dict.fromkeys([data["text"], *data["hints"]]))
    return passage_texts, list(unique)


def _sample(texts: Sequence[str], size: int, *, seed: int = 11) -> list[str]:
    if size >= len(texts):
        return list(texts)
    return random.Random(seed).sample(list(texts), size)


def _timed_encode(embedder: object, texts: list[str], batch_size: int = 64) -> float:
    """Seconds for one raw batched ``encode`` call over ``texts`` (after a small warm-up)."""
    encode = embedder.encode  # type: ignore[attr-defined]
    encode(texts[:batch_size], batch_size=batch_size)
    started = time.perf_counter()
    encode(texts, batch_size=batch_size)
    return time.perf_counter() - started


def _child(argv: Sequence[str] | None = None) -> int:
    """In the child: load the model, build, read peak memory, then time raw encoding."""
    parser = argparse.ArgumentParser(prog="python -m bench.build")
    parser.add_argument("--knowledge", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sample", type=int, default=5000)
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)

    from bot.services import make_embedder
    from bot.settings import Settings
    from index.build import build_index
    from index.documents import load_passages
    from index.store import read_manifest

    # The parent gave this process a clean environment with the run's bot settings.
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    started = time.perf_counter()
    embedder = make_embedder(settings)
    model_load = time.perf_counter() - started
    rss_after_model = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB
    # The same sample as after the build (passages.jsonl keeps the chunker's order).
    _, before_passages = load_passages(args.knowledge)
    sample = _sample([p.text for p in before_passages], args.sample)
    del before_passages
    raw_before = _timed_encode(embedder, sample)
    started = time.perf_counter()
    summary = build_index(
        knowledge_dir=args.knowledge,
        index_dir=args.index,
        embedder=embedder,
        progress=args.progress,
        incremental=False,  # a full build: every passage through the model
    )
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    manifest = read_manifest(args.index)
    passage_texts, unique = _embedded_texts(summary.path)
    after_sample = _sample(passage_texts, args.sample)
    if after_sample != sample:
        raise RuntimeError("the passages read back differ from the knowledge folder's")
    raw_after = _timed_encode(embedder, after_sample)
    raw_embedded = _timed_encode(embedder, _sample(unique, args.sample))
    result = BuildResult(
        backend=settings.embedding_backend,
        passages=summary.passages,
        keys=manifest.keys,
        sentences=summary.sentences,
        unique_texts=len(unique),
        seconds=seconds,
        model_load_seconds=model_load,
        rss_after_model_mb=rss_after_model,
        peak_rss_mb=peak,
        index_kind=summary.index_kind,
        encode_sample=args.sample,
        raw_passage_seconds=(raw_before + raw_after) / 2,
        raw_passage_seconds_runs=(raw_before, raw_after),
        raw_embedded_seconds=raw_embedded,
        measured_at=dt.datetime.now().isoformat(timespec="seconds"),
        phases=summary.phases,
    )
    args.out.write_text(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(_child())
