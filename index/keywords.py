"""BM25 scores at query time, read with numpy alone from the arrays bm25s saved at build time.

bm25s (and the scipy it imports) builds the keyword index; answering only needs its saved
per-document scores, one column per term (CSC arrays), and the vocabulary. Reading those
directly keeps bm25s and scipy out of every start of `mlbot ask` and `mlbot serve` (about a
quarter of a cold start's own work). Scores equal ``bm25s.BM25.get_scores`` for the Lucene
variant the build uses (tested against it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["KeywordIndex"]

# Variants whose scores need more than the saved columns (a non-occurrence term).
_SUPPORTED_METHODS = {"lucene", "robertson", "atire"}


class KeywordIndex:
    def __init__(
        self,
        *,
        vocab: dict[str, int],
        data: np.ndarray,
        indices: np.ndarray,
        indptr: np.ndarray,
        num_docs: int,
    ) -> None:
        self.vocab_dict = vocab
        self._data = data
        self._indices = indices
        self._indptr = indptr
        self.num_docs = num_docs

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        params = json.loads((folder / "params.index.json").read_text(encoding="utf-8"))
        if params.get("method") not in _SUPPORTED_METHODS:
            raise ValueError(f"unsupported BM25 variant {params.get('method')!r}")
        vocab = json.loads((folder / "vocab.index.json").read_text(encoding="utf-8"))
        data, indices, indptr = (
            np.load(folder / f"{name}.csc.index.npy") for name in ("data", "indices", "indptr")
        )
        num_docs = int(params["num_docs"])
        # bm25s keeps one vocabulary entry (the empty term) without a column of its own.
        if len(indptr) > len(vocab) + 1 or (len(indices) and int(indices.max()) >= num_docs):
            raise ValueError("the saved arrays do not match the vocabulary or document count")
        return cls(vocab=vocab, data=data, indices=indices, indptr=indptr, num_docs=num_docs)

    def get_scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for a query of vocabulary terms (repeats count twice,
        as in bm25s); unknown terms are ignored."""
        scores = np.zeros(self.num_docs, dtype=np.float32)
        for token in tokens:
            term = self.vocab_dict.get(token)
            if term is None or term >= len(self._indptr) - 1:
                continue
            start, end = self._indptr[term], self._indptr[term + 1]
            np.add.at(scores, self._indices[start:end], self._data[start:end])
        return scores

    def idf(self, token: str) -> float:
        """Inverse document frequency of a (tokenized) term: log(1 + (N - df + .5) / (df + .5)).
        A term no passage holds gets the highest value."""
        term = self.vocab_dict.get(token)
        frequency = 0
        if term is not None and term < len(self._indptr) - 1:
            frequency = int(self._indptr[term + 1] - self._indptr[term])
        return float(np.log1p((self.num_docs - frequency + 0.5) / (frequency + 0.5)))
