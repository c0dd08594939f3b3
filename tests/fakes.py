"""Fakes for the boundaries: a tiny deterministic embedder for logic tests."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from index.text import tokenize


class HashingEmbedder:
    """Bag-of-words hashed into a small vector space: similar words -> similar vectors.

    Good enough for testing plumbing (ranking by word overlap, abstention on unrelated text);
    the real model is exercised in tests marked ``slow``.
    """

    def __init__(self, dim: int = 2048, name: str = "test/hashing") -> None:
        self._dim = dim
        self._name = name
        self.calls = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in tokenize(text):
                bucket = int.from_bytes(
                    hashlib.blake2b(token.encode(), digest_size=4).digest(), "big"
                )
                out[row, bucket % self._dim] += 1.0
            norm = np.linalg.norm(out[row])
            if norm:
                out[row] /= norm
            else:
                out[row, 0] = 1.0  # a text without words still gets a valid unit vector
        return out
