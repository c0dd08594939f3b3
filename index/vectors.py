"""Vector search behind one interface: exact (flat) when small, HNSW above a threshold."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import faiss
import numpy as np

__all__ = ["HNSW_THRESHOLD", "IndexKind", "VectorIndex"]

IndexKind = Literal["flat", "hnsw"]
# Below this many passages an exact search is both faster to build and fast enough to query.
HNSW_THRESHOLD = 20_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 384


class VectorIndex:
    """Inner-product search over L2-normalised vectors (cosine similarity)."""

    def __init__(self, index: faiss.Index, kind: IndexKind) -> None:
        self._index = index
        self.kind: IndexKind = kind
        if kind == "hnsw":
            faiss.downcast_index(index).hnsw.efSearch = HNSW_EF_SEARCH  # type: ignore[attr-defined]

    @classmethod
    def create(
        cls, dim: int, *, expected: int, kind: IndexKind | Literal["auto"] = "auto"
    ) -> VectorIndex:
        """An empty index for about ``expected`` vectors; fill it with ``add``."""
        if kind == "auto":
            kind = "hnsw" if expected >= HNSW_THRESHOLD else "flat"
        if kind == "hnsw":
            index: faiss.Index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            hnsw = faiss.downcast_index(index).hnsw  # type: ignore[attr-defined]
            hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        else:
            index = faiss.IndexFlatIP(dim)
        return cls(index, kind)

    @classmethod
    def build(
        cls, vectors: np.ndarray, *, kind: IndexKind | Literal["auto"] = "auto"
    ) -> VectorIndex:
        built = cls.create(vectors.shape[1], expected=len(vectors), kind=kind)
        built.add(vectors)
        return built

    def add(self, vectors: np.ndarray) -> None:
        """Append vectors; their ids continue from the current size."""
        self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    @classmethod
    def load(cls, path: Path, *, kind: IndexKind) -> VectorIndex:
        """Read an index file; raises ``RuntimeError`` from FAISS when the file is damaged."""
        return cls(faiss.read_index(str(path)), kind)

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (scores, ids) for one query vector; ids of -1 are dropped."""
        k = min(k, len(self))
        if k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        scores, ids = self._index.search(np.ascontiguousarray(query.reshape(1, -1)), k)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors for ``ids`` (used to score passages found only by BM25)."""
        if len(ids) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64)))
