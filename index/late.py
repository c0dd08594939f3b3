"""Late interaction: rerank a question's best candidates by matching it token by token.

A passage's one vector is the mean of all its tokens, so a question about one clause of a
long paragraph meets that clause diluted by every other word. Late interaction (MaxSim, as
ColBERT scores) keeps the tokens apart: each content word of the question finds its closest
token in the passage, and the passage scores the mean of those best matches, each word
weighted by how rare it is in the knowledge base (its BM25 idf), so "team" in a corpus about
teams counts for less than "payroll". The token vectors are the same model's contextual
outputs, so nothing else is downloaded or trained.

Token vectors are too many to store for every passage of a large index (about 60 per
passage), so the few candidates the hybrid search ranks highest are encoded when a question
needs them, and kept in a cache bounded in bytes. A passage is read as its heading, a colon
and its text, so its tokens carry the section they belong to; a passage with hint questions
also scores the best of those.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from index.documents import Passage
from index.embedder import TokenVectors
from index.text import is_stopword

__all__ = [
    "CACHE_BYTES",
    "DEPTH",
    "HINTED_WEIGHT",
    "WEIGHT",
    "LateInteraction",
    "TokenEncoder",
    "fuse",
    "reading",
    "views_of",
]

# Candidates reranked per question, and how much the token-level score weighs in the fused
# score (both standardised over those candidates); tuned on the evaluation sets.
DEPTH = 15
WEIGHT = 0.5
# A passage with hint questions was already found through question-shaped keys that a person
# wrote: token matching adds less there, and weighs less.
HINTED_WEIGHT = 0.2
# Token vectors kept between questions, in bytes: float32, so scoring converts nothing (a
# passage without hints takes about 60 KB, so this holds about two thousand of them).
CACHE_BYTES = 128 * 1024 * 1024

_WORD = re.compile(r"[\w'’-]+")


@runtime_checkable
class TokenEncoder(Protocol):
    def encode_tokens(
        self, texts: Sequence[str], *, batch_size: int = 64
    ) -> list[TokenVectors]: ...


def reading(passage: Passage) -> str:
    """What a passage's tokens are encoded from: its heading, then its text."""
    heading = passage.section.rsplit(" > ", 1)[-1] if passage.section else passage.doc_title
    return f"{heading}: {passage.text}" if heading else passage.text


def views_of(passage: Passage) -> tuple[str, ...]:
    """The texts a passage is matched through: its reading, then each of its hint questions."""
    return (reading(passage), *passage.hints)


def content_tokens(
    text: str, tokens: TokenVectors, weigh: Callable[[str], float]
) -> tuple[np.ndarray, np.ndarray]:
    """The question's token vectors that carry meaning (not stop words, not punctuation), and
    each one's weight (``weigh`` of the word it belongs to), summing to one."""
    words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
    keep, weights = [], []
    for row, (start, end) in enumerate(tokens.offsets.tolist()):
        if not any(ch.isalnum() for ch in text[start:end]):
            continue
        word = next((w for s, e, w in words if s <= start < e), "")
        if word and is_stopword(word):
            continue
        keep.append(row)
        weights.append(weigh(word) if word else 1.0)
    if not keep:  # only stop words: every token counts
        keep, weights = list(range(len(tokens.vectors))), [1.0] * len(tokens.vectors)
    total = sum(weights)
    share = (
        np.asarray(weights, np.float32) / total
        if total > 0
        else np.full(len(keep), 1 / max(len(keep), 1), np.float32)
    )
    return tokens.vectors[keep], share


def _standardise(values: np.ndarray) -> np.ndarray:
    spread = float(values.std())
    return (values - values.mean()) / spread if spread > 1e-9 else np.zeros_like(values)


def fuse(first: np.ndarray, late: np.ndarray, weight: float | np.ndarray = WEIGHT) -> np.ndarray:
    """Standardised first-stage and late scores, mixed ((1 - weight) * first + weight * late,
    with one weight for all candidates or one each) and put back on the first stage's scale,
    so margins set in its units keep their sense."""
    mixed = (1 - weight) * _standardise(first) + weight * _standardise(late)
    return (first.mean() + first.std() * mixed).astype(np.float32)


class LateInteraction:
    """Token-level scores of an index's passages for a question, with a bounded cache."""

    def __init__(
        self,
        encoder: TokenEncoder,
        passages: Sequence[Passage],
        *,
        weigh: Callable[[str], float] = lambda word: 1.0,
        cache_bytes: int = CACHE_BYTES,
    ) -> None:
        self._encoder = encoder
        self._passages = passages
        self._weigh = weigh
        self._cache: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._budget = cache_bytes
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def cached_bytes(self) -> int:
        """Bytes of token vectors the cache holds now."""
        return self._bytes

    def clear(self) -> None:
        """Forget every cached passage (the next questions encode their candidates afresh)."""
        with self._lock:
            self._cache.clear()
            self._bytes = 0

    def encode(self, texts: Sequence[str]) -> list[TokenVectors]:
        """Token vectors (and embeddings) of texts, from the model this scores with."""
        return self._encoder.encode_tokens(texts)

    def _views(self, ids: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Each passage's token vectors: those of its reading and of each of its
        hint questions, one after the other, and where each of those views starts."""
        with self._lock:
            found = {}
            for i in ids:
                if i in self._cache:
                    self._cache.move_to_end(i)
                    found[i] = self._cache[i]
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        if missing:
            texts: list[str] = []
            owners: list[int] = []
            for i in missing:
                passage = self._passages[i]
                for text in views_of(passage):
                    texts.append(text)
                    owners.append(i)
            encoded = self.encode(texts)
            parts: dict[int, list[np.ndarray]] = {i: [] for i in missing}
            for owner, tokens in zip(owners, encoded, strict=True):
                if len(tokens.vectors):
                    parts[owner].append(np.asarray(tokens.vectors, np.float32))
            fresh = {i: _stacked(views) for i, views in parts.items()}
            found.update(fresh)
            with self._lock:
                for i, entry in fresh.items():
                    if i not in self._cache:
                        self._cache[i] = entry
                        self._bytes += entry[0].nbytes
                # The oldest go first; the newest stays even when it alone is over budget.
                while self._bytes > self._budget and len(self._cache) > 1:
                    _, (matrix, _) = self._cache.popitem(last=False)
                    self._bytes -= matrix.nbytes
        return found

    def scores(
        self, question: str, ids: Sequence[int], *, tokens: TokenVectors | None = None
    ) -> np.ndarray:
        """Each passage's best late-interaction score against the question (whose token
        vectors may be given, when the caller has them already)."""
        if not ids:
            return np.zeros(0, np.float32)
        if tokens is None:
            tokens = self.encode([question])[0]
        query, weights = content_tokens(question, tokens, self._weigh)
        views = self._views(ids)
        out = np.zeros(len(ids), np.float32)
        scored = [n for n, i in enumerate(ids) if len(views[i][0])]
        if not scored or not len(query):
            return out
        # Every candidate's tokens in one matrix: one product, then the best passage token
        # per question token within each view, and the best view per passage.
        matrices = [views[ids[n]] for n in scored]
        tokens_all = np.concatenate([m for m, _ in matrices])
        starts: list[int] = []
        owner_starts: list[int] = []
        at = 0
        for matrix, view_starts in matrices:
            owner_starts.append(len(starts))
            starts.extend((view_starts + at).tolist())
            at += len(matrix)
        best = np.maximum.reduceat(query @ tokens_all.T, starts, axis=1)
        per_view = weights @ best
        out[scored] = np.maximum.reduceat(per_view, owner_starts)
        return out


def _stacked(views: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Views' token vectors as one matrix, and the row each view starts at."""
    if not views:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    lengths = np.asarray([len(v) for v in views], np.int64)
    return np.concatenate(views), np.concatenate([[0], np.cumsum(lengths)[:-1]])
