"""Block Kit renderers: valid blocks, Slack's limits, escaping."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import Block

from bot.answers import Answer, AnswerPassage
from bot.blocks import (
    answer_message,
    checklist_message,
    escape,
    pitfall_catalogue_message,
    pitfall_matches_message,
    unknown_topic_message,
)
from knowledge import load_checklists, load_pitfalls
from knowledge.schema import Pitfalls


def valid(message: dict[str, Any]) -> None:
    assert len(message["blocks"]) <= 50
    for raw in message["blocks"]:
        Block.parse(raw).validate_json()  # type: ignore[union-attr]
        if raw["type"] == "section" and "text" in raw:
            assert len(raw["text"]["text"]) <= 3000
    assert len(message["text"]) <= 3000


def passage(text: str, highlights: tuple[str, ...] = ()) -> AnswerPassage:
    return AnswerPassage(
        text=text,
        source="Doc",
        section="S > T",
        score=0.5,
        highlights=highlights,
        doc_id="d",
        path="p",
        line=1,
    )


def test_escape_neutralises_mentions_and_links() -> None:
    assert (
        escape("<!channel> & <@U1> <http://x|y>")
        == "&lt;!channel&gt; &amp; &lt;@U1&gt; &lt;http://x|y&gt;"
    )


def test_answer_bolds_highlights_and_escapes_document_text() -> None:
    answer = Answer(
        question="q",
        answered=True,
        passages=(passage("A <b> & c. Second one.", ("Second one.",)),),
        confidence=0.6,
    )
    message = answer_message(answer, answer_id=7)
    valid(message)
    text = message["blocks"][0]["text"]["text"]
    assert "*Doc* › S &gt; T" in text
    assert "> A &lt;b&gt; &amp; c. *Second one.*" in text
    assert message["blocks"][-1]["elements"][0]["value"] == "7"


def test_huge_passages_are_trimmed_to_section_limits() -> None:
    answer = Answer(
        question="q",
        answered=True,
        passages=tuple(passage("word " * 2000) for _ in range(3)),
        confidence=0.6,
    )
    message = answer_message(answer)
    valid(message)
    assert message["blocks"][0]["text"]["text"].endswith("…")


def test_not_covered_answer_lists_topics() -> None:
    answer = Answer(
        question="q",
        answered=False,
        passages=(),
        confidence=0.1,
        nearest_topics=("Hiring", "<Ops>"),
    )
    message = answer_message(answer, answer_id=1)
    valid(message)
    dumped = json.dumps(message)
    assert "I don't know" in dumped and "&lt;Ops&gt;" in dumped


def test_big_catalogue_is_cut_to_fifty_blocks() -> None:
    pitfalls = load_pitfalls()
    many = Pitfalls(
        pitfalls=[
            p.model_copy(update={"id": f"{p.id}-{i}"}) for i in range(4) for p in pitfalls.pitfalls
        ]
    )
    message = pitfall_catalogue_message(many)
    valid(message)
    assert len(message["blocks"]) == 50
    assert "left out" in json.dumps(message["blocks"][-1])


def test_checklists_render_valid_interactive_blocks() -> None:
    checklists = load_checklists()
    for checklist in checklists.checklists:
        for head in (None, 10, 300, 5000):
            valid(checklist_message(checklist, ticked={checklist.items[0].id}, head_count=head))
    valid(unknown_topic_message("<!here> " + "x" * 500, checklists))
    team = checklist_message(checklists.get("team-structure"), ticked=set(), head_count=12)  # type: ignore[arg-type]
    assert "Early stage" in json.dumps(team)


def test_matches_message_names_advice_with_sources() -> None:
    pitfall = load_pitfalls().pitfalls[0]
    message = pitfall_matches_message([(pitfall, 0.91, None)])
    valid(message)
    dumped = json.dumps(message)
    assert pitfall.advice[0].quote[:40] in dumped and "0.91" in dumped
    assert "Spotted in" not in dumped
    # The sentence that showed the pitfall is quoted, escaped (no pings) and trimmed.
    spotted = pitfall_matches_message([(pitfall, 0.91, "<!channel> ship it " + "x" * 600)])
    valid(spotted)
    context = [b for b in spotted["blocks"] if b["type"] == "context"][0]["elements"][0]["text"]
    assert "&lt;!channel&gt; ship it" in context and "<!channel>" not in context
    assert len(context) < 320
    valid(pitfall_matches_message([]))
