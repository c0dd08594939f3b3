"""Rebuilds encode only new or changed passages, and give the same index as a full build."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.build import build_index
from index.store import load_index
from tests.fakes import HashingEmbedder


class CountingEmbedder(HashingEmbedder):
    """Remembers every text it was asked to encode."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        self.texts += list(texts)
        return super().encode(texts, batch_size=batch_size, progress=progress)


GUIDE = "# Guide\n\n## Rollouts\n\nRoll out to one percent first. Watch the errors.\n"


def test_adding_a_document_encodes_only_its_passages(knowledge_dir: Path, tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    index_dir = tmp_path / "idx"
    first = build_index(knowledge_dir=knowledge_dir, index_dir=index_dir, embedder=embedder)
    assert first.encoded == first.distinct  # nothing to reuse the first time
    (knowledge_dir / "articles" / "guide.md").write_text(GUIDE, encoding="utf-8")
    embedder.texts.clear()
    second = build_index(knowledge_dir=knowledge_dir, index_dir=index_dir, embedder=embedder)
    assert second.passages == first.passages + 1
    assert (second.encoded, second.distinct) == (1, first.distinct + 1)
    # Only the new passage (and its sentences) went through the model: not the article's
    # passages, nor its hint questions.
    assert embedder.texts and all(t.startswith(("Roll out", "Watch")) for t in embedder.texts)
    # The same index a full build makes, vector for vector.
    full_dir = tmp_path / "full"
    build_index(
        knowledge_dir=knowledge_dir,
        index_dir=full_dir,
        embedder=HashingEmbedder(),
        incremental=False,
    )
    incremental = load_index(index_dir, model=embedder.name)
    full = load_index(full_dir, model=embedder.name)
    assert [p.text for p in incremental.passages] == [p.text for p in full.passages]
    ids = np.arange(len(full.vectors), dtype=np.int64)
    np.testing.assert_allclose(
        incremental.vectors.reconstruct(ids), full.vectors.reconstruct(ids), atol=1e-6
    )
    np.testing.assert_allclose(incremental.sentence_vectors, full.sentence_vectors, atol=1e-6)


def test_a_changed_paragraph_is_encoded_again(knowledge_dir: Path, tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    index_dir = tmp_path / "idx"
    build_index(knowledge_dir=knowledge_dir, index_dir=index_dir, embedder=embedder)
    article = knowledge_dir / "articles" / "ml-for-leaders.md"
    text = article.read_text(encoding="utf-8")
    old = "Team structure is paramount."
    article.write_text(text.replace(old, "Team structure matters a great deal."), encoding="utf-8")
    summary = build_index(knowledge_dir=knowledge_dir, index_dir=index_dir, embedder=embedder)
    assert summary.encoded == 1
    index = load_index(index_dir, model=embedder.name)
    assert any("matters a great deal" in p.text for p in index.passages)


def test_another_model_encodes_everything(knowledge_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    build_index(knowledge_dir=knowledge_dir, index_dir=index_dir, embedder=HashingEmbedder())
    other = HashingEmbedder(name="test/other")
    summary = build_index(knowledge_dir=knowledge_dir, index_dir=index_dir, embedder=other)
    assert summary.encoded == summary.distinct


def test_mlbot_docs_lists_adds_and_removes(
    knowledge_dir: Path,
    tmp_path: Path,
    monkeypatch,
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    import io
    import json

    from bot.cli import main

    monkeypatch.setenv("KNOWLEDGE_DIR", str(knowledge_dir))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EMBEDDING_BACKEND", "torch")
    monkeypatch.setattr("bot.services.make_embedder", lambda settings: HashingEmbedder())
    out = io.StringIO()
    assert main(["docs", "list", "--json"], out=out) == 0
    [article] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert article["id"] == "ml-for-leaders" and article["passages"] is None  # not built yet
    guide = tmp_path / "guide.md"
    guide.write_text(GUIDE, encoding="utf-8")
    bad = tmp_path / "bad.docx"
    bad.write_bytes(b"not a docx")
    # A file that cannot be read is refused by name, and nothing is copied.
    assert main(["docs", "add", str(guide), str(bad)], out=io.StringIO()) == 1
    assert "bad.docx" in capsys.readouterr().err
    assert not (knowledge_dir / "articles" / "guide.md").exists()
    out = io.StringIO()
    assert main(["docs", "add", str(guide)], out=out) == 0
    assert (knowledge_dir / "articles" / "guide.md").exists() and "Rebuilt:" in out.getvalue()
    out = io.StringIO()
    assert main(["docs", "list"], out=out) == 0
    listing = out.getvalue()
    assert "articles/guide  [md]  Guide" in listing and "1 passage, built" in listing
    assert main(["docs", "add", str(guide)], out=io.StringIO()) == 1  # already there
    assert main(["docs", "remove", "articles/guide"], out=io.StringIO()) == 0
    assert not (knowledge_dir / "articles" / "guide.md").exists()
    assert main(["docs", "remove", "nope"], out=io.StringIO()) == 1
    assert main(["docs", "remove", "ml-for-leaders"], out=io.StringIO()) == 1  # the last one
