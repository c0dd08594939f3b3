from __future__ import annotations

from pathlib import Path

import pytest

from index.build import build_index
from index.search import Retriever, Thresholds
from index.store import load_index
from tests.fakes import HashingEmbedder


@pytest.fixture
def retriever(knowledge_dir: Path, tmp_path: Path, fake_embedder: HashingEmbedder) -> Retriever:
    build_index(knowledge_dir=knowledge_dir, index_dir=tmp_path / "idx", embedder=fake_embedder)
    index = load_index(tmp_path / "idx", model=fake_embedder.name)
    return Retriever(index=index, embedder=fake_embedder, thresholds=Thresholds(0.3, 0.3, 1.0))


def test_hybrid_finds_the_passage_sharing_the_question_words(retriever: Retriever) -> None:
    result = retriever.search("feature flag safety net deactivation", k=3)
    assert result.answered
    assert "feature flag provides a safety net" in result.hits[0].passage.text
    assert result.hits[0].passage.section == "4. Measuring and Assessing Machine Learning Models"


def test_results_are_ordered_and_sized(retriever: Retriever) -> None:
    for mode in ("hybrid", "dense", "bm25"):
        result = retriever.search("hiring experienced machine learning engineers", k=4, mode=mode)
        assert len(result.hits) == 4
        scores = [h.score for h in result.hits]
        assert scores == sorted(scores, reverse=True)
        assert len({h.passage_id for h in result.hits}) == 4


def test_unrelated_question_abstains_with_nearest_topics(retriever: Retriever) -> None:
    result = retriever.search("parking garage wifi password", k=3)
    assert not result.answered
    assert result.confidence < 0.3


def test_highlights_are_sentences_of_the_passage(retriever: Retriever) -> None:
    result = retriever.search("Square separate team of over 15 engineers platform", k=3)
    hit = result.hits[0]
    assert "Square" in hit.passage.text
    assert hit.highlights and all(h in hit.passage.sentences for h in hit.highlights)
    assert any("Square" in h for h in hit.highlights)


def test_follow_up_context_steers_retrieval(retriever: Retriever) -> None:
    alone = retriever.search("and what about bootcamps", k=1)
    followed = retriever.search(
        "and what about bootcamps", k=1, context="how do we upskill engineers into ML roles"
    )
    assert "bootcamps" in alone.hits[0].passage.text
    assert "bootcamps" in followed.hits[0].passage.text
    other = retriever.search("and what about it", k=1, context="feature flag safety net")
    assert "feature flag" in other.hits[0].passage.text


def test_query_without_known_words_does_not_crash(retriever: Retriever) -> None:
    for query in ["???", "🙂🙂", "ø" * 50, "a" * 5000]:
        result = retriever.search(query, k=3)
        assert isinstance(result.answered, bool)
