"""Approximate search quality: the HNSW index vs an exact flat index over the same vectors.

Both are queried through ``VectorIndex.search`` (the product's interface) with the same query
vectors: embeddings of the evaluation questions plus random passage texts.

Recall@k counts an HNSW hit as correct when its exact similarity reaches the k-th exact score:
keys with identical text (a sentence shared by two passages) have identical vectors, and which
of those tied ids either index returns is arbitrary. Plain id overlap is reported beside it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.common import Stats, log

__all__ = ["AnnResult", "bench_ann"]

# Scores this close count as the same (float32 inner products of identical vectors).
TIE_EPSILON = 1e-5


@dataclass(frozen=True)
class AnnResult:
    keys: int
    queries: int
    k: int
    recall: float  # tie-aware (see the module docstring)
    min_recall: float
    id_recall: float  # plain overlap of ids
    tied_queries: int  # queries whose k-th and (k+1)-th exact scores are equal
    hnsw: Stats
    exact: Stats
    hnsw_built_here: bool

    @property
    def speedup(self) -> float:
        return self.exact.median / self.hnsw.median


def bench_ann(
    index: object,
    embedder: object,
    *,
    questions: Sequence[str],
    passage_texts: Sequence[str],
    queries: int = 200,
    k: int = 5,
    repeats: int = 3,
    seed: int = 5,
) -> AnnResult:
    from index.embedder import Embedder
    from index.store import LoadedIndex
    from index.vectors import VectorIndex

    assert isinstance(index, LoadedIndex) and isinstance(embedder, Embedder)
    vectors = index.vectors.reconstruct(np.arange(len(index.vectors), dtype=np.int64))
    built_here = index.vectors.kind != "hnsw"
    if built_here:
        # Below the HNSW threshold the product builds a flat index: build the HNSW it would use.
        log(f"ANN: the index is {index.vectors.kind}; building HNSW over its {len(vectors):,} keys")
        hnsw = VectorIndex.build(vectors, kind="hnsw")
    else:
        hnsw = index.vectors
    exact = VectorIndex.build(vectors, kind="flat")
    del vectors
    texts = list(questions)[:queries]
    rng = random.Random(seed)
    texts += rng.sample(list(passage_texts), min(len(passage_texts), queries - len(texts)))
    query_vectors = embedder.encode(texts)
    log(f"ANN: recall@{k} and query time over {len(texts)} queries x {repeats} rounds")
    recalls, id_recalls, tied = [], [], 0
    for q in query_vectors:
        truth_scores, truth = exact.search(q, k + 1)
        _, found = hnsw.search(q, k)
        kth = float(truth_scores[k - 1])
        tied += len(truth_scores) > k and float(truth_scores[k]) >= kth - TIE_EPSILON
        exact_scores = exact.reconstruct(found) @ q
        recalls.append(int(np.sum(exact_scores >= kth - TIE_EPSILON)) / k)
        id_recalls.append(len(set(truth[:k].tolist()) & set(found.tolist())) / k)
    hnsw_times: list[float] = []
    exact_times: list[float] = []
    for round_ in range(repeats):
        for i, q in enumerate(query_vectors):
            pair = (hnsw, hnsw_times), (exact, exact_times)
            for vector_index, times in pair if (round_ + i) % 2 else pair[::-1]:
                started = time.perf_counter()
                vector_index.search(q, k)
                times.append((time.perf_counter() - started) * 1000)
    return AnnResult(
        keys=len(exact),
        queries=len(texts),
        k=k,
        recall=float(np.mean(recalls)),
        min_recall=float(np.min(recalls)),
        id_recall=float(np.mean(id_recalls)),
        tied_queries=tied,
        hnsw=Stats.of(hnsw_times),
        exact=Stats.of(exact_times),
        hnsw_built_here=built_here,
    )
