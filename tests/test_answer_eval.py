"""The composition measures read the Slack message as a person sees it."""

from __future__ import annotations

from bot.answer_eval import measure, message_text, summarise
from knowledge.schema import EvalQuestion


def _message(*texts: str) -> dict[str, object]:
    return {
        "text": "x",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": t}} for t in texts]
        + [{"type": "context", "elements": [{"type": "mrkdwn", "text": "From _Doc_"}]}],
    }


def test_visible_text_drops_markup_and_keeps_the_bold_mask() -> None:
    shown = message_text(_message("> Intro &amp; *the answer.*\n> • item\n_S › T_"))
    assert shown.text == "Intro & the answer.\n• item\nS › T\nFrom Doc\n"
    bold = "".join(c for c, b in zip(shown.text, shown.bold, strict=True) if b)
    assert bold == "the answer."


def test_where_the_answer_starts_whether_a_list_is_whole_and_how_much_bold_is_answer() -> None:
    question = EvalQuestion(
        id="q",
        question="What are the steps?",
        kind="list",
        answers=["These are the steps:"],
        list_items=["First step", "Second step"],
    )
    filler = " ".join(["word"] * 70)
    late = measure(question, _message(f"> {filler} These are the steps:"), answered=True)
    assert late.lead_word == 70 and late.list_complete is False
    good = measure(
        question,
        _message("> *These are the steps:*\n> • First step.\n> • Second step.", "> *Other.*"),
        answered=True,
    )
    assert good.lead_word == 0 and good.list_complete is True
    assert good.bold_answer_chars == len("Thesearethesteps:") and good.bold_chars == len(
        "Thesearethesteps:Other."
    )
    report = summarise([late, good])
    assert report.lead_within_60 == 0.5 and report.lists_complete == 0.5
    assert 0.7 < report.bold_is_answer < 0.8
