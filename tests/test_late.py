"""Late interaction: the token-level reranking of the hybrid search's best candidates."""

from __future__ import annotations

import numpy as np
import pytest

from index.build import build_index
from index.late import LateInteraction, content_tokens, fuse, reading
from index.search import Retriever
from index.store import load_index
from knowledge import DEFAULT_KNOWLEDGE_DIR

pytestmark = pytest.mark.slow


def test_question_words_count_by_rarity_and_stop_words_not_at_all(real_embedder) -> None:  # type: ignore[no-untyped-def]
    question = "How do we pick a payroll provider?"
    tokens = real_embedder.encode_tokens([question])[0]
    rarity = {"pick": 1.0, "payroll": 3.0, "provider": 2.0}
    vectors, weights = content_tokens(question, tokens, lambda word: rarity[word.lower()])
    kept = [
        question[s:e]
        for (s, e), v in zip(tokens.offsets.tolist(), tokens.vectors, strict=True)
        if any(np.array_equal(v, row) for row in vectors)
    ]
    # "how", "do", "we", "a" and "?" carry no meaning of their own.
    assert "how" not in [k.lower() for k in kept] and "?" not in kept and "a" not in kept
    assert "pick" in kept
    assert np.isclose(weights.sum(), 1.0)
    # The rarest word weighs most (its word pieces share its weight).
    by_piece = dict(zip(kept, weights.tolist(), strict=True))
    assert by_piece["pick"] < by_piece["provider"]
    assert max(by_piece.values()) > by_piece["provider"]


def test_only_stop_words_still_give_a_score(real_embedder) -> None:  # type: ignore[no-untyped-def]
    tokens = real_embedder.encode_tokens(["what is it?"])[0]
    vectors, weights = content_tokens("what is it?", tokens, lambda word: 1.0)
    assert len(vectors) == len(tokens.vectors) and np.isclose(weights.sum(), 1.0)


def test_fusing_keeps_the_first_stage_scale_and_a_zero_weight_changes_nothing() -> None:
    first = np.asarray([0.70, 0.65, 0.50], np.float32)
    late = np.asarray([0.2, 0.9, 0.4], np.float32)
    assert np.allclose(fuse(first, late, 0.0), first, atol=1e-6)
    mixed = fuse(first, late, 0.5)
    assert np.isclose(mixed.mean(), first.mean(), atol=1e-6)
    assert mixed[1] > mixed[0]  # the word-level evidence turned the near-tie around
    assert np.allclose(
        fuse(first, np.full(3, 0.4, np.float32), 0.5),
        first.mean() + 0.5 * (first - first.mean()),
        atol=1e-6,
    )


@pytest.fixture(scope="module")
def article(tmp_path_factory: pytest.TempPathFactory, real_embedder):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("article")
    build_index(knowledge_dir=DEFAULT_KNOWLEDGE_DIR, index_dir=folder, embedder=real_embedder)
    return load_index(folder, model=real_embedder.name, dim=real_embedder.dim)


def test_token_vectors_are_cached_within_a_bound_and_scores_repeat(article, real_embedder) -> None:  # type: ignore[no-untyped-def]
    ids = list(range(5))
    unbounded = LateInteraction(real_embedder, article.passages)
    first = unbounded.scores("How big should the ML team be?", ids)
    budget = unbounded.cached_bytes // 2
    late = LateInteraction(real_embedder, article.passages, cache_bytes=budget)
    assert np.allclose(late.scores("How big should the ML team be?", ids), first, atol=1e-6)
    assert 0 < late.cached_bytes <= budget and len(late._cache) < len(ids)
    again = late.scores("How big should the ML team be?", ids)  # partly cached, partly not
    assert np.allclose(first, again, atol=1e-6)
    assert late.cached_bytes <= budget
    late.clear()
    assert late.cached_bytes == 0 and not late._cache
    assert late.scores("anything", []).shape == (0,)


def test_each_passage_scores_its_best_view_by_weighted_maxsim(article, real_embedder) -> None:  # type: ignore[no-untyped-def]
    """The batched scores equal MaxSim worked out view by view: for each content word of the
    question its closest token, weighted by rarity, and the passage's best view."""
    rarity = {"team": 0.5, "hire": 2.0}
    late = LateInteraction(real_embedder, article.passages, weigh=lambda w: rarity.get(w, 1.0))
    hinted = [i for i, p in enumerate(article.passages) if p.hints][:3]
    plain = [i for i, p in enumerate(article.passages) if not p.hints][:3]
    question = "Whom should we hire first for a small ML team?"
    got = late.scores(question, hinted + plain)
    asked = real_embedder.encode_tokens([question])[0]
    query, weights = content_tokens(question, asked, late._weigh)
    for n, i in enumerate(hinted + plain):
        passage = article.passages[i]
        views = real_embedder.encode_tokens([reading(passage), *passage.hints])
        assert len(views) == 1 + len(passage.hints)
        expected = max(float((query @ v.vectors.T).max(axis=1) @ weights) for v in views)
        assert got[n] == pytest.approx(expected, abs=2e-3)


def test_a_passage_is_read_with_its_heading(article) -> None:  # type: ignore[no-untyped-def]
    passage = next(p for p in article.passages if p.section)
    assert reading(passage) == f"{passage.section.rsplit(' > ', 1)[-1]}: {passage.text}"


def test_a_question_the_article_never_mentions_is_not_covered(article, real_embedder) -> None:  # type: ignore[no-untyped-def]
    retriever = Retriever(index=article, embedder=real_embedder)
    outside = retriever.search("Which payroll provider suits 50 employees?")
    inside = retriever.search("How should an early-stage startup structure its ML team?")
    assert not outside.answered and inside.answered
    assert outside.confidence < retriever.thresholds.hybrid <= inside.confidence
