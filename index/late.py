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
needs them, and kept in a small cache. A passage is read as its heading, a colon and its
text, so its tokens carry the section they belong to; a passage with hint questions also
scores the best of those.
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
    "CACHE_PASSAGES",
    "DEPTH",
    "HINTED_WEIGHT",
    "WEIGHT",
    "LateInteraction",
    "TokenEncoder",
    "fuse",
]

# Candidates reranked per question, and how much the token-level score weighs in the fused
# score (both standardised over those candidates); tuned on the evaluation sets.
DEPTH = 20
WEIGHT = 0.5
# A passage with hint questions was already found through question-shaped keys that a person
# wrote: token matching adds less there, and weighs less.
HINTED_WEIGHT = 0.2
# Passages whose token vectors are kept between questions (about 60 KB each).
CACHE_PASSAGES = 1024

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


def maxsim(query: np.ndarray, weights: np.ndarray, passage: np.ndarray) -> float:
    """Weighted mean over query tokens of the best cosine similarity to any passage token."""
    if not len(query) or not len(passage):
        return 0.0
    return float((query @ passage.T).max(axis=1) @ weights)


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
        cache: int = CACHE_PASSAGES,
    ) -> None:
        self._encoder = encoder
        self._passages = passages
        self._weigh = weigh
        self._cache: OrderedDict[int, list[np.ndarray]] = OrderedDict()
        self._size = cache
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> list[TokenVectors]:
        """Token vectors (and embeddings) of texts, from the model this scores with."""
        return self._encoder.encode_tokens(texts)

    def _views(self, ids: Sequence[int]) -> dict[int, list[np.ndarray]]:
        """Token vectors of each passage's reading and of each of its hint questions."""
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
                for text in (reading(passage), *passage.hints):
                    texts.append(text)
                    owners.append(i)
            encoded = self.encode(texts)
            fresh: dict[int, list[np.ndarray]] = {i: [] for i in missing}
            for owner, tokens in zip(owners, encoded, strict=True):
                fresh[owner].append(tokens.vectors.astype(np.float16))
            found.update(fresh)
            with self._lock:
                for i, views in fresh.items():
                    self._cache[i] = views
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
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
        return np.asarray(
            [max(maxsim(query, weights, v.astype(np.float32)) for v in views[i]) for i in ids],
            dtype=np.float32,
        )
