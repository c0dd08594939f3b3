"""Block Kit renderers: valid blocks, Slack's limits, escaping."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import Block

from bot.answers import Answer, AnswerPassage
from bot.pitfalls import PitfallMatch
from bot.slack.blocks import (
    answer_message,
    checklist_message,
    escape,
    pitfall_catalogue_message,
    pitfall_detail_message,
    pitfall_matches_message,
    unknown_topic_message,
)
from index.compose import Composition, Quote
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


def quote(
    sentences: tuple[str, ...] = (),
    *,
    items: tuple[str, ...] = (),
    bold: tuple[str, ...] = (),
    more: int = 0,
    source: str = "Doc",
    section: str = "S > T",
) -> Quote:
    return Quote(
        sentences=sentences,
        items=items,
        more_items=more,
        bold=bold,
        source=source,
        section=section,
        doc_id=source.lower(),
        path="p",
        line=1,
        score=0.5,
        passage_ids=(0,),
    )


def answered(lead: Quote, *support: Quote) -> Answer:
    return Answer(
        question="q",
        answered=True,
        passages=(passage(" ".join(lead.sentences) or "x"),),
        confidence=0.6,
        composition=Composition(lead=lead, support=support),
    )


def test_escape_neutralises_mentions_and_links() -> None:
    assert (
        escape("<!channel> & <@U1> <http://x|y>")
        == "&lt;!channel&gt; &amp; &lt;@U1&gt; &lt;http://x|y&gt;"
    )


def test_answer_comes_first_with_one_short_source_line_and_escapes_document_text() -> None:
    answer = answered(quote(("A <b> & c.", "Second one."), bold=("Second one.",)))
    message = answer_message(answer, answer_id=7)
    valid(message)
    text = message["blocks"][0]["text"]["text"]
    assert text.startswith("> A &lt;b&gt; &amp; c. *Second one.*")
    assert text.endswith("\n_S › T_")  # the section path, not the document title
    assert message["text"] == "Second one."  # the notification is the answering sentence
    footer = message["blocks"][-2]["elements"][0]["text"]
    assert footer == "From _Doc_"  # the title, once
    feedback = message["blocks"][-1]
    assert feedback["type"] == "context_actions"  # Slack's own feedback buttons
    buttons = feedback["elements"][0]
    assert (buttons["positive_button"]["value"], buttons["negative_button"]["value"]) == (
        "up:7",
        "down:7",
    )
    assert "match" not in json.dumps(message) and "0.5" not in json.dumps(message)


def test_a_list_answer_is_quoted_whole_and_says_how_many_more() -> None:
    answer = answered(quote(("Avoid the following:",), items=("One.", "Two <x>."), more=3))
    message = answer_message(answer)
    valid(message)
    text = message["blocks"][0]["text"]["text"]
    assert text.startswith("> Avoid the following:\n> • One.\n> • Two &lt;x&gt;.\n> _…and 3 more_")
    assert "*" not in text  # the whole quote is the answer: nothing in bold


def test_support_from_another_document_names_each_title() -> None:
    answer = answered(
        quote(("Lead.",)), quote(("Other.",), source="Guide <2>", section="Part > Sub")
    )
    message = answer_message(answer)
    valid(message)
    texts = [json.dumps(b, ensure_ascii=False) for b in message["blocks"]]
    assert "_Doc › S › T_" in texts[0] and "Guide &lt;2&gt; › Part › Sub" in texts[2]
    assert not any("From _" in t for t in texts)


def test_huge_quotes_are_trimmed_to_section_limits() -> None:
    answer = answered(*(quote(("word " * 2000,), section=f"S{i}") for i in range(3)))
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


def test_catalogue_fits_one_screen_with_details_on_demand() -> None:
    pitfalls = load_pitfalls()
    message = pitfall_catalogue_message(pitfalls)
    valid(message)
    assert len(message["blocks"]) <= 4
    dumped = json.dumps(message)
    assert all(p.id in dumped for p in pitfalls.pitfalls)
    assert "`/ml-pitfalls <id>`" in dumped
    many = Pitfalls(
        pitfalls=[
            p.model_copy(update={"id": f"{p.id}-{i}"}) for i in range(20) for p in pitfalls.pitfalls
        ]
    )
    valid(pitfall_catalogue_message(many))  # long catalogues take several sections


def test_pitfall_details_show_why_and_every_piece_of_advice_once() -> None:
    pitfall = load_pitfalls().get("no-production-safety-net")
    assert pitfall is not None
    message = pitfall_detail_message(pitfall)
    valid(message)
    dumped = json.dumps(message, ensure_ascii=False)
    assert "Why it matters" in dumped and pitfall.review_question[:30] in dumped
    assert all(a.quote[:40] in dumped for a in pitfall.advice)


def test_checklists_render_valid_interactive_blocks() -> None:
    checklists = load_checklists()
    for checklist in checklists.checklists:
        for head in (None, 10, 300, 5000):
            valid(checklist_message(checklist, ticked={checklist.items[0].id}, head_count=head))
    valid(unknown_topic_message("<!here> " + "x" * 500, checklists))
    team = checklist_message(checklists.get("team-structure"), ticked=set(), head_count=12)  # type: ignore[arg-type]
    assert "Early stage" in json.dumps(team)


def test_matches_message_quotes_the_best_advice_without_scores() -> None:
    pitfall = load_pitfalls().pitfalls[0]
    second = pitfall.advice[1]
    message = pitfall_matches_message([PitfallMatch(pitfall, 0.91, None, (second,))])
    valid(message)
    dumped = json.dumps(message, ensure_ascii=False)
    assert second.quote[:40] in dumped and pitfall.advice[0].quote[:40] not in dumped
    assert "0.91" not in dumped and "match" not in dumped
    assert "Spotted in" not in dumped
    # The sentence that showed the pitfall is quoted, escaped (no pings) and trimmed.
    spotted = pitfall_matches_message(
        [PitfallMatch(pitfall, 0.91, "<!channel> ship it " + "x" * 600)]
    )
    valid(spotted)
    section = spotted["blocks"][2]["text"]["text"]
    assert "&lt;!channel&gt; ship it" in section and "<!channel>" not in section
    assert "x" * 300 not in section
    valid(pitfall_matches_message([]))
