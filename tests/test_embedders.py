"""The ONNX serving backend agrees with sentence-transformers (the reference)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.embedder import DEFAULT_MODEL, EmbedderError
from index.onnx_embedder import OnnxEmbedder, onnx_path_for

pytestmark = pytest.mark.slow

TEXTS = [
    "How should a 20-person startup organise its ML team?",
    "What is the wifi password?",
    "Implementing models behind a feature flag provides a safety net, allowing for rapid "
    "deactivation should unforeseen issues emerge.",
    "",
    "ｆｕｌｌ width and emoji 🤖 and 中文",
    "word " * 400,  # longer than the model's 256-token window: both truncate
]


def test_onnx_matches_torch_embeddings_and_neighbours(real_embedder, torch_embedder) -> None:  # type: ignore[no-untyped-def]
    a = real_embedder.encode(TEXTS)
    b = torch_embedder.encode(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 384)
    cosines = (a * b).sum(axis=1)
    assert cosines.min() > 0.99999
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert real_embedder.name == torch_embedder.name == DEFAULT_MODEL


def test_batching_does_not_change_results(real_embedder) -> None:  # type: ignore[no-untyped-def]
    together = real_embedder.encode(TEXTS, batch_size=2)
    alone = np.vstack([real_embedder.encode([t]) for t in TEXTS])
    assert np.allclose(together, alone, atol=1e-5)


def test_damaged_export_is_reported(onnx_cache_dir: Path, tmp_path: Path, real_embedder) -> None:  # type: ignore[no-untyped-def]
    from index.embedder import resolve_model_path

    model_dir = Path(resolve_model_path(DEFAULT_MODEL))
    cache = tmp_path / "onnx"
    target = onnx_path_for(model_dir, cache)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not an onnx file")
    with pytest.raises(EmbedderError, match="delete it to re-export"):
        OnnxEmbedder(DEFAULT_MODEL, cache_dir=cache)


def test_non_local_model_is_refused_with_advice(tmp_path: Path) -> None:
    with pytest.raises(EmbedderError, match="EMBEDDING_BACKEND=torch"):
        OnnxEmbedder("someone/unknown-model", cache_dir=tmp_path)
