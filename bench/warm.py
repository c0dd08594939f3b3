"""Warm answer: what one question costs in-process, exactly as `mlbot ask --json -` answers it.

Measured: ``services.answers.answer(q)`` then ``json.dumps(answer.to_json())``. Floor: the
same embedder encoding the question plus an exact FAISS search (``IndexFlatIP`` over the same
key vectors, k=50), i.e. the least any dense retrieval over this index must do.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

import faiss
import numpy as np

from bench.common import Stats, log

__all__ = ["WarmResult", "bench_warm"]

FLOOR_K = 50


@dataclass(frozen=True)
class WarmResult:
    label: str
    passages: int
    keys: int
    index_kind: str
    answer: Stats
    floor: Stats
    answered: int
    questions: int

    @property
    def ratio(self) -> float:
        return self.answer.median / self.floor.median


def bench_warm(
    services: object, questions: Sequence[str], *, repeats: int, label: str
) -> WarmResult:
    """Alternate answer and floor per question (order flipped each time), ``repeats`` rounds."""
    from bot.services import Services

    assert isinstance(services, Services)
    answers, embedder, index = services.answers, services.embedder, services.index
    key_vectors = index.vectors.reconstruct(np.arange(len(index.vectors), dtype=np.int64))
    flat = faiss.IndexFlatIP(key_vectors.shape[1])
    flat.add(np.ascontiguousarray(key_vectors, dtype=np.float32))
    del key_vectors

    def answer_once(question: str) -> tuple[float, bool]:
        started = time.perf_counter()
        answer = answers.answer(question)
        json.dumps(answer.to_json(), ensure_ascii=False)
        return time.perf_counter() - started, answer.answered

    def floor_once(question: str) -> float:
        started = time.perf_counter()
        vector = embedder.encode([question])
        flat.search(vector, FLOOR_K)
        return time.perf_counter() - started

    for question in questions[:5]:  # warm-up: first calls pay one-off allocations
        answer_once(question)
        floor_once(question)
    answer_times: list[float] = []
    floor_times: list[float] = []
    answered = 0
    log(f"warm answer ({label}): {len(questions)} questions x {repeats} rounds")
    for round_ in range(repeats):
        for i, question in enumerate(questions):
            if (round_ + i) % 2:
                floor_times.append(floor_once(question))
            seconds, ok = answer_once(question)
            answer_times.append(seconds)
            if round_ == 0 and ok:
                answered += 1
            if not (round_ + i) % 2:
                floor_times.append(floor_once(question))
    return WarmResult(
        label=label,
        passages=len(index.passages),
        keys=len(index.vectors),
        index_kind=index.vectors.kind,
        answer=Stats.of([t * 1000 for t in answer_times]),
        floor=Stats.of([t * 1000 for t in floor_times]),
        answered=answered,
        questions=len(questions),
    )
