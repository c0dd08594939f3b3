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


def _spans_of(text: str, pieces: list[str]) -> list[tuple[int, int]]:
    starts = [text.index(piece) for piece in pieces]
    return [(start, start + len(piece)) for start, piece in zip(starts, pieces, strict=True)]


PASSAGE = (
    "Hire one strong generalist first. Buy managed infrastructure until the workload is "
    "understood. Keep a baseline without ML to compare against."
)
SENTENCES = [
    "Hire one strong generalist first.",
    "Buy managed infrastructure until the workload is understood.",
    "Keep a baseline without ML to compare against.",
]


def test_span_vectors_come_from_one_pass_and_agree_across_backends(
    real_embedder, torch_embedder
) -> None:  # type: ignore[no-untyped-def]
    long_text = "word " * 400 + "Tail sentence beyond the window."
    texts = [PASSAGE, long_text]
    spans = [
        _spans_of(PASSAGE, SENTENCES),
        _spans_of(long_text, ["Tail sentence beyond the window."]),
    ]
    onnx_texts, onnx_spans = real_embedder.encode_spans(texts, spans)
    torch_texts, torch_spans = torch_embedder.encode_spans(texts, spans)
    # The text vectors are the ordinary embeddings.
    assert np.allclose(onnx_texts, real_embedder.encode(texts), atol=1e-5)
    # Both backends pool the same tokens.
    for a, b in zip(onnx_spans, torch_spans, strict=True):
        assert ((a * b).sum(axis=1) > 0.9999).all()
    # A pooled sentence is close to (not equal to) the sentence encoded alone, and each sentence
    # is nearest to its own stand-alone embedding.
    alone = real_embedder.encode(SENTENCES)
    similarity = onnx_spans[0] @ alone.T
    assert (np.argmax(similarity, axis=1) == np.arange(3)).all()
    assert similarity.diagonal().min() > 0.6
    # A sentence cut off by the 256-token window is encoded on its own instead of left empty.
    assert np.allclose(
        onnx_spans[1][0], real_embedder.encode(["Tail sentence beyond the window."])[0], atol=1e-5
    )
    assert np.allclose(np.linalg.norm(onnx_spans[0], axis=1), 1.0, atol=1e-5)


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


def test_token_vectors_agree_across_backends_and_skip_special_tokens(
    real_embedder, torch_embedder
) -> None:  # type: ignore[no-untyped-def]
    texts = [PASSAGE, "What is the wifi password?", ""]
    onnx, torch = real_embedder.encode_tokens(texts), torch_embedder.encode_tokens(texts)
    for a, b in zip(onnx, torch, strict=True):
        assert np.array_equal(a.offsets, b.offsets)
        assert a.vectors.shape == (len(a.offsets), 384)
        if len(a.vectors):
            assert ((a.vectors * b.vectors).sum(axis=1)).min() > 0.9999
            assert np.allclose(np.linalg.norm(a.vectors, axis=1), 1.0, atol=1e-5)
            # Only real tokens: every one covers characters of the text ([CLS]/[SEP] cover none).
            assert all(end > start for start, end in a.offsets.tolist())
    assert [texts[1][s:e] for s, e in onnx[1].offsets.tolist()][-1] == "?"
    # The same pass gives the text's embedding: a question is run through the model once.
    for encoded in (onnx, torch):
        pooled = np.stack([t.pooled for t in encoded[:2]])
        assert (pooled * real_embedder.encode(texts[:2])).sum(axis=1).min() > 0.99999
    assert len(onnx[2].vectors) == 0
