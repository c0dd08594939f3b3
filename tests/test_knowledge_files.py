"""The shipped knowledge files validate, and every quote really is in the article where cited."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.documents import load_passages
from knowledge import (
    DEFAULT_KNOWLEDGE_DIR,
    EVAL_DIR,
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
    dev = load_labelled_messages(EVAL_DIR / "pitfall_dev_messages.yaml")
    assert {pid for m in dev.messages for pid in m.pitfalls} <= known


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
