from __future__ import annotations

from pathlib import Path

import pytest

from bot.answers import AnswerService, QuestionError, clean_question
from index.build import build_index
from index.search import Retriever, Thresholds
from index.store import load_index
from knowledge import load_checklists
from tests.fakes import HashingEmbedder


@pytest.fixture
def service(knowledge_dir: Path, tmp_path: Path, fake_embedder: HashingEmbedder) -> AnswerService:
    build_index(knowledge_dir=knowledge_dir, index_dir=tmp_path / "idx", embedder=fake_embedder)
    index = load_index(tmp_path / "idx", model=fake_embedder.name)
    retriever = Retriever(index=index, embedder=fake_embedder, thresholds=Thresholds(0.3, 0.3, 1.0))
    return AnswerService(retriever=retriever, checklists=load_checklists(), max_question_chars=200)


@pytest.mark.parametrize("raw", ["", "   ", "\x00\x01", "\u200b\u200b", "?!?"])
def test_empty_questions_are_refused(raw: str) -> None:
    with pytest.raises(QuestionError, match="empty"):
        clean_question(raw, max_chars=100)


def test_long_questions_are_cut_and_flagged() -> None:
    question, truncated = clean_question("why " * 100, max_chars=50)
    assert truncated and len(question) <= 50


def test_answer_json_contract(service: AnswerService) -> None:
    payload = service.answer("feature flag safety net for models").to_json()
    assert set(payload) >= {"question", "answered", "passages"}
    assert payload["answered"] is True
    assert len(payload["passages"]) == 3
    for passage in payload["passages"]:
        assert set(passage) >= {"text", "source", "section", "score", "highlights"}
        assert isinstance(passage["score"], float)
        assert all(h in passage["text"] for h in passage["highlights"])
    assert payload["passages"][0]["source"] == "Machine Learning for Leaders: 5 Essentials to Know"


def test_not_covered_answer_quotes_nothing_and_names_topics(service: AnswerService) -> None:
    answer = service.answer("parking garage wifi password")
    assert not answer.answered and answer.passages == ()
    assert answer.nearest_topics


def test_related_checklist_follows_the_top_section(service: AnswerService) -> None:
    answer = service.answer(
        "centralized shared ML team for early stage companies under 25 employees"
    )
    assert answer.answered
    assert answer.related_checklist == "team-structure"


def test_truncated_question_still_answers(service: AnswerService) -> None:
    answer = service.answer("feature flag safety net " + "padding " * 100)
    assert answer.truncated and len(answer.question) <= 200


def test_the_answering_process_multiplies_with_one_blas_thread(
    knowledge_dir: Path, tmp_path: Path, fake_embedder: HashingEmbedder
) -> None:
    """OpenBLAS's threads would fight the model's for the cores on every small product."""
    from threadpoolctl import ThreadpoolController

    from bot.services import build_services
    from bot.settings import Settings

    blas = ThreadpoolController().select(user_api="blas")
    before = blas.info()
    try:
        services = build_services(
            Settings(knowledge_dir=knowledge_dir, data_dir=tmp_path / "data"),
            embedder=fake_embedder,
            rebuild=True,
            notify=lambda message: None,
        )
        assert services.answers.answer("How should we hire for ML?").question
        assert all(
            pool["num_threads"] == 1
            for pool in ThreadpoolController().select(user_api="blas").info()
        )
    finally:
        for pool in before:  # the rest of the test session keeps its threads
            ThreadpoolController().select(filepath=pool["filepath"]).limit(
                limits=pool["num_threads"]
            )
