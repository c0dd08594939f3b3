"""Adding one document to a large index: the incremental rebuild beside the full build.

The synthetic corpus and its built index are copied to a scratch folder (the cached ones stay
as they are), the article is added to the copy, and ``build_index`` runs in a child process,
reusing the index's vectors for every passage it already holds. Measured: the rebuild's wall
time, model load excluded, as for the full build. Floor: the full build of the same corpus.
Target: at most a tenth of it.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.common import child_env, log

__all__ = ["IncrementalResult", "bench_incremental"]

ADDED = Path(__file__).resolve().parents[1] / "knowledge" / "articles" / "ml-for-leaders.md"


@dataclass(frozen=True)
class IncrementalResult:
    passages: int
    added_passages: int
    encoded: int
    seconds: float
    peak_rss_mb: float
    phases: dict[str, float] = field(default_factory=dict)


def bench_incremental(
    corpus_root: Path, index_dir: Path, *, timeout: float = 3600
) -> IncrementalResult:
    with tempfile.TemporaryDirectory(prefix="bench-incremental-") as tmp:
        scratch = Path(tmp)
        knowledge = scratch / "knowledge"
        log("incremental: copying the corpus and its index to a scratch folder")
        shutil.copytree(corpus_root, knowledge)
        shutil.copytree(index_dir, scratch / "index")
        shutil.copy(ADDED, knowledge / "added-document.md")
        out = scratch / "result.json"
        command = [
            sys.executable,
            "-m",
            "bench.incremental",
            "--knowledge",
            str(knowledge),
            "--index",
            str(scratch / "index"),
            "--out",
            str(out),
        ]
        log("incremental: rebuilding with one document added, in a child process")
        subprocess.run(command, env=child_env(), cwd=tmp, check=True, timeout=timeout)
        return IncrementalResult(**json.loads(out.read_text()))


def _child(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.incremental")
    parser.add_argument("--knowledge", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    from bot.services import make_embedder
    from bot.settings import Settings
    from index.build import build_index
    from index.store import read_manifest

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    embedder = make_embedder(settings)
    embedder.encode(["warm up"])  # the model's first call is not the build's work
    before = read_manifest(args.index).passages
    started = time.perf_counter()
    summary = build_index(knowledge_dir=args.knowledge, index_dir=args.index, embedder=embedder)
    seconds = time.perf_counter() - started
    result = IncrementalResult(
        passages=summary.passages,
        added_passages=summary.passages - before,
        encoded=summary.encoded,
        seconds=seconds,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        phases=summary.phases,
    )
    args.out.write_text(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(_child())
