from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.build import build_index
from index.store import (
    FORMAT_VERSION,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    load_index,
    read_manifest,
)
from tests.fakes import HashingEmbedder


def build(knowledge_dir: Path, index_dir: Path, embedder: HashingEmbedder, **kw: object):
    return build_index(knowledge_dir=knowledge_dir, index_dir=index_dir, embedder=embedder, **kw)  # type: ignore[arg-type]


def test_manifest_describes_the_build(
    knowledge_dir: Path, tmp_path: Path, fake_embedder: HashingEmbedder
) -> None:
    summary = build(knowledge_dir, tmp_path / "idx", fake_embedder)
    manifest = read_manifest(tmp_path / "idx")
    assert manifest.format_version == FORMAT_VERSION
    assert manifest.model == "test/hashing" and manifest.dim == 2048
    assert manifest.passages == summary.passages > 50
    assert manifest.documents == 1 and manifest.index_kind == "flat"
    assert manifest.keys > manifest.passages  # sentences and hint questions are keys too
    assert len(manifest.knowledge_checksum) == 64 and manifest.built_at.startswith("20")
    loaded = load_index(tmp_path / "idx", model="test/hashing", dim=2048)
    assert len(loaded.passages) == manifest.passages


def test_hnsw_is_used_above_the_threshold_or_on_request(
    knowledge_dir: Path, tmp_path: Path, fake_embedder: HashingEmbedder
) -> None:
    build(knowledge_dir, tmp_path / "idx", fake_embedder, kind="hnsw")
    loaded = load_index(tmp_path / "idx", model="test/hashing")
    assert loaded.manifest.index_kind == "hnsw" and loaded.vectors.kind == "hnsw"


def test_missing_index_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="mlbot index build"):
        load_index(tmp_path / "nothing", model="m")


def test_mismatched_model_or_dimension_is_refused(
    knowledge_dir: Path, tmp_path: Path, fake_embedder: HashingEmbedder
) -> None:
    build(knowledge_dir, tmp_path / "idx", fake_embedder)
    with pytest.raises(IndexMismatchError, match="other/model"):
        load_index(tmp_path / "idx", model="other/model")
    with pytest.raises(IndexMismatchError, match="384"):
        load_index(tmp_path / "idx", model="test/hashing", dim=384)


@pytest.mark.parametrize(
    "victim", ["vectors.faiss", "passages.jsonl", "sentence_vectors.npy", "manifest.json"]
)
def test_corrupt_files_are_named(
    knowledge_dir: Path, tmp_path: Path, fake_embedder: HashingEmbedder, victim: str
) -> None:
    summary = build(knowledge_dir, tmp_path / "idx", fake_embedder)
    (summary.path / victim).write_bytes(b"\x00garbage")
    with pytest.raises(IndexCorruptError, match=victim.replace(".", r"\.")):
        load_index(tmp_path / "idx", model="test/hashing")


def test_inconsistent_counts_are_detected(
    knowledge_dir: Path, tmp_path: Path, fake_embedder: HashingEmbedder
) -> None:
    summary = build(knowledge_dir, tmp_path / "idx", fake_embedder)
    manifest = json.loads((summary.path / "manifest.json").read_text())
    manifest["passages"] += 1
    (summary.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexCorruptError, match="inconsistent"):
        load_index(tmp_path / "idx", model="test/hashing")


class ExplodingEmbedder(HashingEmbedder):
    def encode(self, texts, *, batch_size=64, progress=False):  # type: ignore[no-untyped-def]
        raise RuntimeError("power cut")


def test_failed_build_leaves_the_good_index_in_place(
    knowledge_dir: Path, tmp_path: Path, fake_embedder: HashingEmbedder
) -> None:
    good = build(knowledge_dir, tmp_path / "idx", fake_embedder)
    with pytest.raises(RuntimeError, match="power cut"):
        build(knowledge_dir, tmp_path / "idx", ExplodingEmbedder(), incremental=False)
    loaded = load_index(tmp_path / "idx", model="test/hashing")
    assert loaded.path == good.path
    assert sorted(p.name for p in (tmp_path / "idx").iterdir()) == ["CURRENT", good.path.name]


def test_malformed_knowledge_fails_before_anything_is_written(
    knowledge_dir: Path, tmp_path: Path, fake_embedder: HashingEmbedder
) -> None:
    (knowledge_dir / "broken.md").write_text("---\ntitle: [oops\n---\n")
    with pytest.raises(Exception, match="broken.md:2"):
        build(knowledge_dir, tmp_path / "idx", fake_embedder)
    assert not (tmp_path / "idx").exists()
    assert fake_embedder.calls == 0


def test_rebuild_publishes_atomically_and_prunes_old_builds(
    knowledge_dir: Path, tmp_path: Path, fake_embedder: HashingEmbedder
) -> None:
    paths = [build(knowledge_dir, tmp_path / "idx", fake_embedder).path for _ in range(3)]
    assert (tmp_path / "idx" / "CURRENT").read_text() == paths[-1].name
    remaining = {p.name for p in (tmp_path / "idx").glob("build-*")}
    assert remaining == {paths[-1].name, paths[-2].name}
    assert not list((tmp_path / "idx").glob(".CURRENT*"))  # no temp files left behind


def test_key_offsets_group_keys_by_passage(
    knowledge_dir: Path, tmp_path: Path, fake_embedder: HashingEmbedder
) -> None:
    build(knowledge_dir, tmp_path / "idx", fake_embedder)
    loaded = load_index(tmp_path / "idx", model="test/hashing")
    first_keys = loaded.vectors.reconstruct(loaded.key_ids_for(0))
    expected = fake_embedder.encode([loaded.passages[0].text])[0]
    assert np.allclose(first_keys[0], expected)
    assert (loaded.key_owner[loaded.key_ids_for(5)] == 5).all()


class _Counting:
    """Wraps an embedder and counts the texts it is asked to run through the model."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.texts: list[str] = []
        self.name, self.dim = inner.name, inner.dim  # type: ignore[attr-defined]

    def encode(self, texts, **kw):  # type: ignore[no-untyped-def]
        self.texts += list(texts)
        return self.inner.encode(texts, **kw)  # type: ignore[attr-defined]

    def encode_spans(self, texts, spans, **kw):  # type: ignore[no-untyped-def]
        self.texts += list(texts)
        return self.inner.encode_spans(texts, spans, **kw)  # type: ignore[attr-defined]


@pytest.mark.slow
def test_build_runs_each_passage_through_the_model_once(
    knowledge_dir: Path, tmp_path: Path, real_embedder, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import index.build

    # Keys reach the vector index in several chunks; ids must still follow passage order.
    monkeypatch.setattr(index.build, "_ADD_CHUNK", 7)
    counting = _Counting(real_embedder)
    build(knowledge_dir, tmp_path / "idx", counting)  # type: ignore[arg-type]
    loaded = load_index(tmp_path / "idx", model=real_embedder.name)
    passages = loaded.passages
    hints = {h for p in passages for h in p.hints}
    # Sentences are pooled from their passage's forward pass: only passages and hint questions
    # are encoded, each once.
    assert sorted(counting.texts) == sorted({p.text for p in passages} | hints)
    assert len(loaded.sentence_vectors) == sum(len(p.sentences) for p in passages)
    multi = next(i for i, p in enumerate(passages) if len(p.sentences) > 1 and not p.hints)
    keys = loaded.vectors.reconstruct(loaded.key_ids_for(multi))
    assert np.allclose(keys[0], real_embedder.encode([passages[multi].text])[0], atol=1e-5)
    assert np.allclose(keys[1:], loaded.sentence_vectors_for(multi), atol=1e-6)


def test_keyword_scores_equal_bm25s_without_importing_it(
    knowledge_dir: Path, tmp_path: Path, fake_embedder: HashingEmbedder
) -> None:
    import subprocess
    import sys

    import bm25s

    from index.text import tokenize

    build(knowledge_dir, tmp_path / "idx", fake_embedder)
    loaded = load_index(tmp_path / "idx", model="test/hashing")
    reference = bm25s.BM25.load(str(loaded.path / "bm25"))
    for query in (
        "hire a machine learning engineer",
        "feature flag rollback safety net",
        "baseline baseline model",  # a repeated term counts twice in both
        "words the article never uses xyzzy",
    ):
        tokens = [t for t in tokenize(query) if t in reference.vocab_dict]
        expected = reference.get_scores(tokens) if tokens else np.zeros(len(loaded.passages))
        assert np.allclose(loaded.bm25.get_scores(tokens), expected, atol=1e-5)
    # Answering never imports bm25s or scipy (they cost a cold start ~0.1 s).
    probe = (
        "import sys; from pathlib import Path; from index.store import load_index; "
        "from index.search import Retriever; "
        f"load_index(Path({str(tmp_path / 'idx')!r}), model='test/hashing'); "
        "print(sorted(m for m in ('bm25s', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
