"""Hybrid retrieval (dense + BM25, fused), sentence highlighting and abstention."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from index.documents import Passage
from index.embedder import Embedder, TokenVectors
from index.late import DEPTH, HINTED_WEIGHT, WEIGHT, LateInteraction, TokenEncoder, fuse
from index.store import LoadedIndex
from index.text import tokenize

__all__ = ["Hit", "Mode", "Retriever", "SearchResult", "Thresholds"]

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "bm25")
# Passages BM25 contributes before fusion, and key vectors the dense search reads.
CANDIDATES = 50
CANDIDATE_KEYS = 200
KEYS_PER_RESULT = 40
# How much BM25 (scaled to the query's best match) adds to the dense similarity.
BM25_WEIGHT = 0.1
# Share of the late-interaction score in a hybrid answer's confidence.
LATE_CONFIDENCE = 0.5
# Weight of an earlier question in a follow-up's query vector.
CONTEXT_WEIGHT = 0.5


@dataclass(frozen=True)
class Thresholds:
    """Minimum evidence to answer, per mode (calibrated on the evaluation set with `mlbot eval`).

    Dense judges the best cosine similarity between question and passage; hybrid judges that
    averaged with the best late-interaction score (``index.late``) when the embedder gives
    token vectors; BM25-only, having no comparable scale, judges the raw BM25 score of its best
    passage.
    """

    dense: float = 0.40
    hybrid: float = 0.42
    bm25: float = 2.2

    def for_mode(self, mode: Mode) -> float:
        return float(getattr(self, mode))


@dataclass(frozen=True)
class Hit:
    passage_id: int
    passage: Passage
    score: float
    dense: float
    bm25: float
    highlights: tuple[str, ...]


@dataclass(frozen=True)
class SearchResult:
    query: str
    mode: Mode
    hits: list[Hit]
    confidence: float
    answered: bool
    nearest_sections: list[str] = field(default_factory=list)
    # The question's vector, so composing an answer can score sentences without encoding again.
    query_vector: np.ndarray | None = field(default=None, repr=False, compare=False)


class Retriever:
    """Answers queries against a loaded index with one encode and one vector search."""

    def __init__(
        self, *, index: LoadedIndex, embedder: Embedder, thresholds: Thresholds | None = None
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.thresholds = thresholds or Thresholds()
        self._vocab = index.bm25.vocab_dict
        # Token-level reranking of the hybrid search's best candidates, where the embedder can
        # give token vectors.
        self._late = (
            LateInteraction(embedder, index.passages, weigh=self._rarity)
            if isinstance(embedder, TokenEncoder)
            else None
        )

    def _rarity(self, word: str) -> float:
        """How much a question word weighs in late interaction: its idf in the keyword index
        (stop words and words with no indexable token weigh nothing)."""
        tokens = tokenize(word)
        return self.index.bm25.idf(tokens[0]) if tokens else 0.0

    def _query_vector(
        self, query: str, context: str | None, *, with_tokens: bool
    ) -> tuple[np.ndarray, TokenVectors | None]:
        """The query's vector (an earlier question mixed in for a follow-up) and, when asked
        and the embedder can, the question's token vectors from the same forward pass."""
        texts = [query, context] if context else [query]
        tokens: TokenVectors | None = None
        if with_tokens and self._late is not None:
            encoded = self._late.encode(texts)
            vectors = np.stack([e.pooled for e in encoded])
            tokens = encoded[0]
        else:
            vectors = self.embedder.encode(texts)
        if not context:
            return vectors[0], tokens
        vector = vectors[0] + CONTEXT_WEIGHT * vectors[1]
        return (vector / np.linalg.norm(vector)).astype(np.float32), tokens

    def _bm25_scores(self, query: str, context: str | None) -> np.ndarray:
        tokens = [t for t in tokenize(query) if t in self._vocab]
        if context:
            tokens += [t for t in tokenize(context) if t in self._vocab and t not in tokens]
        if not tokens:
            return np.zeros(len(self.index.passages), dtype=np.float32)
        return np.asarray(self.index.bm25.get_scores(tokens), dtype=np.float32)

    def _dense_scores(self, qvec: np.ndarray, k: int) -> dict[int, float]:
        """Best key similarity per passage, for the passages whose keys rank highest."""
        scores, ids = self.index.vectors.search(qvec, max(CANDIDATE_KEYS, KEYS_PER_RESULT * k))
        dense: dict[int, float] = {}
        # Keys come back best first, so the first time a passage appears is its best score.
        for owner, score in zip(self.index.key_owner[ids].tolist(), scores.tolist(), strict=True):
            if owner not in dense:
                dense[owner] = score
        return dense

    def similarity(self, passage_ids: list[int], qvec: np.ndarray) -> dict[int, float]:
        """Exact best key similarity of specific passages to a query vector."""
        out = {}
        for passage_id in passage_ids:
            keys = self.index.vectors.reconstruct(self.index.key_ids_for(passage_id))
            out[passage_id] = float((keys @ qvec).max()) if len(keys) else 0.0
        return out

    def search(
        self, query: str, *, k: int = 3, mode: Mode = "hybrid", context: str | None = None
    ) -> SearchResult:
        n = len(self.index.passages)
        qvec, tokens = self._query_vector(query, context, with_tokens=mode == "hybrid")
        late_of: dict[int, float] = {}
        dense = self._dense_scores(qvec, k) if mode != "bm25" else {}
        bm25_all = self._bm25_scores(query, context) if mode != "dense" else np.zeros(n, np.float32)
        bm25_max = float(bm25_all.max()) if n else 0.0
        bm25_top: list[int] = []
        if bm25_max > 0:
            top = min(CANDIDATES, n)
            part = np.argpartition(-bm25_all, top - 1)[:top]
            bm25_top = [int(i) for i in part[np.argsort(-bm25_all[part])] if bm25_all[i] > 0]
        if mode == "hybrid":
            dense.update(self.similarity([i for i in bm25_top if i not in dense], qvec))
            # Dense similarity leads; BM25, scaled to this query's best, adds a small lexical
            # nudge that separates near-ties (weight tuned on the evaluation set).
            score_of = {
                i: dense[i] + BM25_WEIGHT * (float(bm25_all[i]) / bm25_max if bm25_max else 0.0)
                for i in dense
            }
            if self._late is not None:
                score_of, late_of = self._rerank(
                    query, score_of, depth=max(DEPTH, k), tokens=tokens
                )
        elif mode == "dense":
            score_of = dense
        else:
            score_of = {i: float(bm25_all[i]) for i in bm25_top}
        chosen = sorted(score_of, key=lambda i: -score_of[i])[:k]
        if mode == "bm25":
            dense = self.similarity(chosen, qvec)
            confidence = float(bm25_all[chosen[0]]) if chosen else 0.0
        else:
            confidence = max((dense[i] for i in chosen), default=0.0)
            if late_of and chosen:
                # Whole-passage and word-by-word evidence together: a question about something
                # the documents never mention can sit near a passage as a whole, but its own
                # words find no match there.
                confidence = (1 - LATE_CONFIDENCE) * confidence + LATE_CONFIDENCE * max(
                    late_of[i] for i in chosen
                )
        hits = [
            Hit(
                passage_id=i,
                passage=self.index.passages[i],
                score=float(score_of[i]),
                dense=float(dense.get(i, 0.0)),
                bm25=float(bm25_all[i]),
                highlights=self._highlights(i, qvec),
            )
            for i in chosen
        ]
        answered = bool(hits) and confidence >= self.thresholds.for_mode(mode)
        nearest: list[str] = []
        for hit in hits:
            label = hit.passage.section or hit.passage.doc_title
            if label not in nearest:
                nearest.append(label)
        return SearchResult(
            query=query,
            mode=mode,
            hits=hits,
            confidence=confidence,
            answered=answered,
            nearest_sections=nearest,
            query_vector=qvec,
        )

    def _rerank(
        self,
        query: str,
        score_of: dict[int, float],
        *,
        depth: int,
        tokens: TokenVectors | None,
    ) -> tuple[dict[int, float], dict[int, float]]:
        """The best ``depth`` candidates scored again with late interaction fused in, and their
        late-interaction scores."""
        assert self._late is not None
        ranked = sorted(score_of, key=lambda i: -score_of[i])[:depth]
        if len(ranked) < 2:
            return score_of, {}
        first = np.asarray([score_of[i] for i in ranked], dtype=np.float32)
        late = self._late.scores(query, ranked, tokens=tokens)
        weights = np.asarray(
            [HINTED_WEIGHT if self.index.passages[i].hints else WEIGHT for i in ranked]
        )
        fused = fuse(first, late, weights)
        return (
            dict(zip(ranked, fused.tolist(), strict=True)),
            dict(zip(ranked, late.tolist(), strict=True)),
        )

    def _highlights(self, passage_id: int, qvec: np.ndarray) -> tuple[str, ...]:
        """The sentence(s) of a passage closest to the question, in reading order."""
        sentences = self.index.passages[passage_id].sentences
        if len(sentences) <= 1:
            return tuple(sentences)
        sims = self.index.sentence_vectors_for(passage_id) @ qvec
        best = float(sims.max())
        chosen = [i for i in np.argsort(-sims)[:2] if sims[i] >= best - 0.05]
        return tuple(sentences[i] for i in sorted(chosen))
