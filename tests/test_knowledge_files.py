"""The shipped knowledge files validate, and every quote really is in the article where cited."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.compose import leans_on_previous
from index.documents import load_passages
from knowledge import (
    DEFAULT_KNOWLEDGE_DIR,
    TRAINING_MESSAGES,
    load_checklists,
    load_eval_set,
    load_labelled_messages,
    load_pitfalls,
)
from knowledge.errors import KnowledgeError
from knowledge.schema import SourceQuote


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def sections() -> dict[str, str]:
    _, passages = load_passages(DEFAULT_KNOWLEDGE_DIR)
    out: dict[str, str] = {}
    for p in passages:
        out[p.section] = out.get(p.section, "") + " " + p.text
    return out


def _quotes() -> list[tuple[str, SourceQuote]]:
    quotes = []
    for checklist in load_checklists().checklists:
        quotes += [(f"checklist {checklist.id}/{i.id}", i.source) for i in checklist.all_items()]
    for pitfall in load_pitfalls().pitfalls:
        quotes.append((f"pitfall {pitfall.id}", pitfall.source))
        quotes += [(f"pitfall {pitfall.id} advice", a) for a in pitfall.advice]
    return quotes


def test_every_quote_is_verbatim_under_its_section(sections: dict[str, str]) -> None:
    problems = [
        f"{where}: {quote.quote[:50]!r} not under {quote.section!r}"
        for where, quote in _quotes()
        if _flat(quote.quote) not in sections.get(quote.section, "")
    ]
    assert problems == []


def test_no_quote_leans_on_a_sentence_it_leaves_out() -> None:
    """A quote opening "However…" or "It…" needs the sentence before it: quote both."""
    leaning = [
        f"{where}: {quote.quote[:50]!r}"
        for where, quote in _quotes()
        if leans_on_previous(quote.quote)
    ]
    assert leaning == []


def test_required_checklists_and_pitfalls_exist() -> None:
    assert [c.id for c in load_checklists().checklists] == [
        "hiring",
        "team-structure",
        "pipeline",
        "evaluation",
        "pitfalls",
    ]
    ids = {p.id for p in load_pitfalls().pitfalls}
    assert ids >= {
        "ml-for-linear-process",
        "expecting-immediate-results",
        "model-metrics-over-product",
        "underestimating-infrastructure-cost",
    }


def test_team_structure_stages_cover_every_head_count() -> None:
    team = load_checklists().get("team-structure")
    assert team is not None
    assert [team.stage_for(n).id for n in (1, 24, 25, 500, 501, 100_000)] == [  # type: ignore[union-attr]
        "early",
        "early",
        "mid",
        "mid",
        "mature",
        "mature",
    ]


def test_eval_sets_are_large_enough_and_grounded(sections: dict[str, str]) -> None:
    eval_set = load_eval_set()
    assert len(eval_set.in_domain) >= 40 and len(eval_set.out_of_domain) >= 10
    article = " ".join(sections.values())
    missing = [q.id for q in eval_set.in_domain if not any(_flat(a) in article for a in q.answers)]
    assert missing == []
    messages = load_labelled_messages()
    assert len(messages.messages) >= 40
    known = {p.id for p in load_pitfalls().pitfalls}
    assert {pid for m in messages.messages for pid in m.pitfalls} <= known
    training = load_labelled_messages(
        DEFAULT_KNOWLEDGE_DIR / TRAINING_MESSAGES, pitfalls=load_pitfalls()
    )
    assert len(training.messages) >= 860
    # No training message is also an evaluation message.
    assert not {m.text for m in training.messages} & {m.text for m in messages.messages}


def test_invalid_checklist_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "checklists.yaml"
    path.write_text(
        "checklists:\n"
        "  - id: hiring\n"
        "    title: Hiring\n"
        "    summary: s\n"
        "    items:\n"
        "      - id: Not A Slug\n"
        "        text: t\n"
        "        source: {section: s, quote: q}\n"
    )
    with pytest.raises(KnowledgeError) as info:
        load_checklists(path)
    assert info.value.line == 6 and "checklists.0.items.0.id" in str(info.value)


def test_broken_yaml_and_missing_fields_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "pitfalls.yaml"
    path.write_text("pitfalls:\n  - id: x\n    title: [oops\n")
    with pytest.raises(KnowledgeError, match="invalid YAML") as info:
        load_pitfalls(path)
    assert info.value.line is not None and info.value.line >= 3
    path.write_text("pitfalls:\n  - id: x\n    title: T\n")
    with pytest.raises(KnowledgeError) as info:
        load_pitfalls(path)
    assert info.value.line == 2 and "source" in str(info.value)


def test_combined_example_with_unknown_pitfall_names_its_line(tmp_path: Path) -> None:
    pitfall = (
        "  - id: {id}\n"
        "    title: T\n"
        "    source: {{section: s, quote: q}}\n"
        "    advice: [{{section: s, quote: q}}]\n"
        "    examples: [x]\n"
        "    review_question: q\n"
    )
    path = tmp_path / "pitfalls.yaml"
    path.write_text(
        "pitfalls:\n" + pitfall.format(id="a") + pitfall.format(id="b") + "combined_examples:\n"
        "  - text: fine\n"
        "    pitfalls: [a, b]\n"
        "  - text: names a pitfall the catalogue lacks\n"
        "    pitfalls: [a, typo]\n"
    )
    with pytest.raises(KnowledgeError) as info:
        load_pitfalls(path)
    assert info.value.line == 18
    assert "combined_examples.1.pitfalls" in str(info.value) and "typo" in str(info.value)
    path.write_text(path.read_text().replace("[a, typo]", "[a, a]"))
    with pytest.raises(KnowledgeError, match="each pitfall once"):
        load_pitfalls(path)
    path.write_text(path.read_text().replace("[a, a]", "[b, a]"))
    assert len(load_pitfalls(path).combined_examples) == 2


def test_training_messages_must_name_catalogue_pitfalls(tmp_path: Path) -> None:
    path = tmp_path / TRAINING_MESSAGES
    path.write_text(
        "messages:\n"
        "  - text: Ship it to everyone, no flag.\n"
        "    pitfalls: [no-production-safety-net]\n"
        "  - text: Accuracy is all that matters.\n"
        "    pitfalls: [model-metric-over-product]\n"
    )
    with pytest.raises(KnowledgeError) as info:
        load_labelled_messages(path, pitfalls=load_pitfalls())
    assert info.value.line == 5 and "model-metric-over-product" in str(info.value)
    path.write_text(
        path.read_text().replace(
            "model-metric-over-product", "no-production-safety-net, no-production-safety-net"
        )
    )
    with pytest.raises(KnowledgeError, match="each pitfall once"):
        load_labelled_messages(path)


def test_shipped_training_messages_only_train_the_shipped_catalogue(knowledge_dir: Path) -> None:
    from bot.services import training_messages
    from bot.settings import Settings

    settings = Settings(knowledge_dir=knowledge_dir)
    assert len(training_messages(settings, load_pitfalls())) >= 860
    # A catalogue of one's own: the shipped messages are labelled with pitfalls it may not have.
    (knowledge_dir / "pitfalls.yaml").write_text(
        (DEFAULT_KNOWLEDGE_DIR / "pitfalls.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    own = load_pitfalls(knowledge_dir / "pitfalls.yaml")
    assert training_messages(settings, own) == []
    # ... until the folder has training messages of its own.
    (knowledge_dir / TRAINING_MESSAGES).write_text(
        "messages:\n"
        "  - text: Ship it to everyone, no flag.\n"
        "    pitfalls: [no-production-safety-net]\n"
    )
    assert [m.text for m in training_messages(settings, own)] == ["Ship it to everyone, no flag."]
