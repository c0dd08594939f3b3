"""Retrieval quality on the project's evaluation set, with the real model (the acceptance bar)."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.build import build_index
from index.evaluate import evaluate
from index.search import Retriever
from index.store import load_index
from knowledge import DEFAULT_KNOWLEDGE_DIR, load_eval_set


@pytest.mark.slow
def test_hybrid_meets_the_bar_and_beats_each_half(tmp_path: Path, real_embedder) -> None:  # type: ignore[no-untyped-def]
    build_index(
        knowledge_dir=DEFAULT_KNOWLEDGE_DIR, index_dir=tmp_path / "idx", embedder=real_embedder
    )
    index = load_index(tmp_path / "idx", model=real_embedder.name, dim=real_embedder.dim)
    reports = {
        r.mode: r for r in evaluate(Retriever(index=index, embedder=real_embedder), load_eval_set())
    }
    hybrid = reports["hybrid"]
    assert hybrid.hit_at_3 >= 0.95
    assert hybrid.hit_at_1 >= 0.80
    assert hybrid.answered >= 0.95
    assert hybrid.abstained >= 0.90
    for other in ("dense", "bm25"):
        assert hybrid.hit_at_1 > reports[other].hit_at_1
        assert hybrid.hit_at_3 > reports[other].hit_at_3


@pytest.mark.slow
@pytest.mark.parametrize("name", ["questions.yaml", "answer_questions.yaml"])
def test_answers_read_as_answers_on_the_slack_message(
    tmp_path: Path,
    real_embedder,
    name: str,  # type: ignore[no-untyped-def]
) -> None:
    """Issue 11's bar, measured on the rendered Slack message of every in-domain question."""
    from bot.answer_eval import evaluate_composition
    from bot.answers import AnswerService
    from knowledge import EVAL_DIR, load_checklists

    build_index(
        knowledge_dir=DEFAULT_KNOWLEDGE_DIR, index_dir=tmp_path / "idx", embedder=real_embedder
    )
    index = load_index(tmp_path / "idx", model=real_embedder.name, dim=real_embedder.dim)
    answers = AnswerService(
        retriever=Retriever(index=index, embedder=real_embedder), checklists=load_checklists()
    )
    report = evaluate_composition(answers, load_eval_set(EVAL_DIR / name))
    assert report.lead_within_60 >= 0.90, report.misses()
    if report.lists:
        assert report.lists_complete >= 0.90, report.misses()
    assert report.bold_is_answer >= 0.70
    assert report.bold_share < 1 / 3
    assert report.median_words <= 130
