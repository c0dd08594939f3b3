"""The fast serving backend: the same sentence-transformers model run with ONNX Runtime.

The model is exported to ONNX locally, once, from the packaged weights (never downloaded), and
cached by a fingerprint of the model files. Serving then needs only onnxruntime, tokenizers and
numpy: no torch import (most of a cold start) and about a fifth of the per-question time.
Embeddings agree with sentence-transformers to a cosine of 0.9999999 (mean pooling, L2
normalised), so an index built by either backend serves the other.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from index.embedder import (
    DEFAULT_MODEL,
    EmbedderError,
    Span,
    TokenVectors,
    encode_lost_spans,
    pool_spans,
    resolve_model_path,
)

__all__ = ["EXPORT_VERSION", "OnnxEmbedder", "export_onnx", "onnx_path_for"]

# Bumped when the export recipe changes, so old exports are not reused.
EXPORT_VERSION = 1
# Runs over more tokens than this (a batch of long texts) shrink the memory arena when done.
SHRINK_AFTER_TOKENS = 512
_FINGERPRINT_FILES = ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json")


def _read_json(path: Path) -> dict[str, object]:
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def onnx_path_for(model_dir: Path, cache_dir: Path) -> Path:
    """Where the export of this model lives: keyed by the model files' names, sizes and
    modification times (hashing 90 MB of weights on every start would cost 0.1 s)."""
    digest = hashlib.sha256(f"export-v{EXPORT_VERSION}:{model_dir.resolve()}".encode())
    for name in _FINGERPRINT_FILES:
        path = model_dir / name
        if path.exists():
            stat = path.stat()
            digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return cache_dir / digest.hexdigest()[:16] / "model.onnx"


def export_onnx(model_dir: Path, target: Path) -> Path:
    """Export the transformer to ONNX (token embeddings out); written atomically."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    class _TokenEmbeddings(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(model_dir)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    sample = tokenizer(
        ["an example", "a second, longer example"], padding=True, return_tensors="pt"
    )
    if "token_type_ids" not in sample:
        sample["token_type_ids"] = torch.zeros_like(sample["input_ids"])
    names = ["input_ids", "attention_mask", "token_type_ids"]
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        # The tracer's warnings concern code paths a BERT encoder never takes (causal masks);
        # the parity tests hold the export to the reference embeddings instead.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _TokenEmbeddings(model),
                tuple(sample[name] for name in names),
                tmp,
                input_names=names,
                output_names=["token_embeddings"],
                dynamic_axes={n: {0: "batch", 1: "sequence"} for n in [*names, "token_embeddings"]},
                opset_version=17,
                dynamo=False,
            )
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


class OnnxEmbedder:
    """Mean-pooled, L2-normalised sentence embeddings with ONNX Runtime on the CPU."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        cache_dir: Path,
        threads: int | None = None,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._name = model
        model_dir = Path(resolve_model_path(model))
        if not model_dir.is_dir():
            raise EmbedderError(
                f"the ONNX backend needs a local model folder; {model!r} is not one "
                "(set EMBEDDING_BACKEND=torch to load it through sentence-transformers)"
            )
        pooling = _read_json(model_dir / "1_Pooling" / "config.json")
        if pooling and not pooling.get("pooling_mode_mean_tokens"):
            raise EmbedderError(
                f"{model!r} does not use mean pooling; set EMBEDDING_BACKEND=torch for it"
            )
        config = _read_json(model_dir / "config.json")
        self._dim = int(config.get("hidden_size", 0))  # type: ignore[call-overload]
        st_config = _read_json(model_dir / "sentence_bert_config.json")
        max_length = int(st_config.get("max_seq_length", 512))  # type: ignore[call-overload]
        path = onnx_path_for(model_dir, cache_dir)
        if not path.exists():
            print(f"Exporting {model} to ONNX (once, into {path.parent})…", file=sys.stderr)
            try:
                export_onnx(model_dir, path)
            except Exception as exc:  # torch/transformers raise many kinds
                raise EmbedderError(f"exporting {model!r} to ONNX failed: {exc}") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # a damaged export: say where it is
            raise EmbedderError(f"cannot load {path} ({exc}); delete it to re-export") from exc
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._shrink = ort.RunOptions()
        self._shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        # Runs with one thread each may overlap (the session is thread-safe); runs that use every
        # core go one at a time, or concurrent ones would oversubscribe the cores and starve the
        # threads that acknowledge Slack requests.
        self._run_lock: AbstractContextManager[object] = (
            nullcontext() if options.intra_op_num_threads == 1 else threading.Lock()
        )
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.no_padding()

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def _batches(
        self, texts: Sequence[str], batch_size: int
    ) -> Iterator[tuple[list[int], list[Any]]]:
        """Positions and encodings of ``texts`` in batches of similar token counts.

        Sorting by token count (not characters) leaves almost no padding: on the benchmark
        corpus, character order padded batches by 22% (48% more attention work).
        """
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            yield chunk, [encodings[i] for i in chunk]

    def _forward(self, encodings: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Token embeddings (batch, width, dim) and the attention mask of tokenized texts."""
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = (
                encoding.ids,
                encoding.attention_mask,
                encoding.type_ids,
            )
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        # A big batch grows ONNX Runtime's memory arena, which otherwise keeps its peak for
        # good; such runs hand the memory back when they end (queries stay on the fast path).
        options = self._shrink if ids.size > SHRINK_AFTER_TOKENS else None
        with self._run_lock:
            tokens = self._session.run(
                None, {k: v for k, v in feed.items() if k in self._inputs}, options
            )[0]
        return tokens, mask

    @staticmethod
    def _pool(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
        weights = mask[..., None].astype(np.float32)
        pooled = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def _passes(
        self, texts: Sequence[str], batch_size: int
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """Per text (its position, in batch order), from one forward pass: its embedding, its
        real tokens' embeddings (no special tokens, no padding) and their character offsets."""
        for chunk, encodings in self._batches(texts, batch_size):
            tokens, mask = self._forward(encodings)
            pooled = self._pool(tokens, mask)
            for row, (i, encoding) in enumerate(zip(chunk, encodings, strict=True)):
                real = np.flatnonzero(
                    np.asarray(encoding.attention_mask)
                    & ~np.asarray(encoding.special_tokens_mask, dtype=bool)
                )
                offsets = np.asarray(encoding.offsets, dtype=np.int64).reshape(-1, 2)[real]
                yield i, pooled[row], tokens[row, real], offsets

    def encode_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]], *, batch_size: int = 64
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Each text's embedding, and one per character span of it pooled from the same pass
        (see ``pool_spans``); spans lost to truncation are encoded on their own."""
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        span_vectors: list[np.ndarray] = [np.zeros((0, self._dim), np.float32)] * len(texts)
        lost: list[tuple[int, int]] = []
        for i, pooled, tokens, offsets in self._passes(texts, batch_size):
            out[i] = pooled
            span_vectors[i], missing = pool_spans(tokens, offsets, spans[i])
            lost += [(i, m) for m in missing]
        encode_lost_spans(self, texts, spans, span_vectors, lost)
        return out, span_vectors

    def encode_tokens(self, texts: Sequence[str], *, batch_size: int = 64) -> list[TokenVectors]:
        """Each text's real tokens (no special ones): L2-normalised vectors and character
        offsets, for late interaction (see ``index.late``), and its embedding."""
        out: list[TokenVectors] = [TokenVectors.empty(self._dim)] * len(texts)
        for i, pooled, tokens, offsets in self._passes(texts, batch_size):
            out[i] = TokenVectors.of(tokens, offsets, pooled)
        return out

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for chunk, encodings in self._batches(texts, batch_size):
            out[chunk] = self._pool(*self._forward(encodings))
        return out
