"""Warm answer: what one question costs in-process, exactly as `mlbot ask --json -` answers it.

Measured: ``services.answers.answer(q)`` then ``json.dumps(answer.to_json())``, in two states
of the late-interaction cache (``index.late``), which holds the token vectors of passages
recently reranked:

- **cached**: every question was answered once before, so its candidates' token vectors are
  in the cache (as for every question on an article-sized knowledge base after the first few,
  and for recurring questions on a large one). Floor: the same embedder encoding the question
  plus an exact FAISS search (``IndexFlatIP`` over the same key vectors, k=50), the least any
  dense retrieval over this index must do.
- **cold**: the cache is emptied before each question, so its candidates are encoded then (a
  question nobody asked, on a knowledge base larger than the cache). Floor: the same encode and
  exact search, plus one batched forward pass over the texts the rerank must read for that
  question's candidates, the least any reranker that encodes its candidates must do.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
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
    cold_answer: Stats
    cold_floor: Stats
    candidates: int  # passages the rerank reads per question
    answered: int
    questions: int

    @property
    def ratio(self) -> float:
        return self.answer.median / self.floor.median

    @property
    def cold_ratio(self) -> float:
        return self.cold_answer.median / self.cold_floor.median


def _alternate(
    questions: Sequence[str],
    repeats: int,
    measured: Callable[[str], float],
    floor: Callable[[str], float],
) -> tuple[list[float], list[float]]:
    """Both timings per question, ``repeats`` rounds, which goes first flipping each time."""
    measured_times: list[float] = []
    floor_times: list[float] = []
    for round_ in range(repeats):
        for i, question in enumerate(questions):
            if (round_ + i) % 2:
                floor_times.append(floor(question))
            measured_times.append(measured(question))
            if not (round_ + i) % 2:
                floor_times.append(floor(question))
    return measured_times, floor_times


def bench_warm(
    services: object, questions: Sequence[str], *, repeats: int, label: str
) -> WarmResult:
    from bot.services import Services
    from index.late import DEPTH, views_of

    assert isinstance(services, Services)
    answers, embedder, index = services.answers, services.embedder, services.index
    late = services.retriever._late
    key_vectors = index.vectors.reconstruct(np.arange(len(index.vectors), dtype=np.int64))
    flat = faiss.IndexFlatIP(key_vectors.shape[1])
    flat.add(np.ascontiguousarray(key_vectors, dtype=np.float32))
    del key_vectors
    encode_tokens = getattr(embedder, "encode_tokens", None)
    # What the rerank reads for each question: its candidates' readings and hint questions.
    candidate_texts = {
        q: [
            text
            for hit in services.retriever.search(q, k=DEPTH).hits
            for text in views_of(hit.passage)
        ]
        for q in questions
    }
    answered = sum(answers.answer(q).answered for q in questions)  # also fills the cache

    def answer_once(question: str) -> float:
        started = time.perf_counter()
        answer = answers.answer(question)
        json.dumps(answer.to_json(), ensure_ascii=False)
        return time.perf_counter() - started

    def cold_answer_once(question: str) -> float:
        if late is not None:
            late.clear()
        return answer_once(question)

    def floor_once(question: str) -> float:
        started = time.perf_counter()
        vector = embedder.encode([question])
        flat.search(vector, FLOOR_K)
        return time.perf_counter() - started

    def cold_floor_once(question: str) -> float:
        started = time.perf_counter()
        vector = embedder.encode([question])
        flat.search(vector, FLOOR_K)
        if encode_tokens is not None:
            encode_tokens(candidate_texts[question])
        return time.perf_counter() - started

    for question in questions[:5]:  # warm-up: first calls pay one-off allocations
        floor_once(question)
        cold_floor_once(question)
    if late is not None:
        log(f"warm answer ({label}): {late.cached_bytes / 2**20:,.0f} MiB of token vectors cached")
    log(f"warm answer ({label}): {len(questions)} questions x {repeats} rounds, cached and cold")
    answer_times, floor_times = _alternate(questions, repeats, answer_once, floor_once)
    cold_times, cold_floor_times = _alternate(questions, repeats, cold_answer_once, cold_floor_once)
    if late is not None:
        late.clear()
    return WarmResult(
        label=label,
        passages=len(index.passages),
        keys=len(index.vectors),
        index_kind=index.vectors.kind,
        answer=Stats.of([t * 1000 for t in answer_times]),
        floor=Stats.of([t * 1000 for t in floor_times]),
        cold_answer=Stats.of([t * 1000 for t in cold_times]),
        cold_floor=Stats.of([t * 1000 for t in cold_floor_times]),
        candidates=DEPTH,
        answered=answered,
        questions=len(questions),
    )
