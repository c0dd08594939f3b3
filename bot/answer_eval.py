"""How well answers read, measured on the Slack message itself.

For every in-domain question of an evaluation set, the answer is rendered exactly as Slack gets
it (``blocks.answer_message``), its visible text is read back from the blocks, and four things
are measured against the question's verbatim gold spans:
- the answer starts within the first 60 words (the first gold span found in the text);
- a list answer is complete (every ``list_items`` fragment is in the message);
- the share of bold characters that lie inside a gold span, and of visible text that is bold;
- the number of words in the message.
"""

from __future__ import annotations

import re
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from bot.answers import AnswerService
from bot.slack.blocks import answer_message
from knowledge.schema import EvalQuestion, EvalSet

__all__ = ["CompositionReport", "MessageText", "evaluate_composition", "message_text"]

LEAD_WORDS = 60
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


@dataclass(frozen=True)
class MessageText:
    """What a reader sees: the plain text and which of its characters are bold."""

    text: str
    bold: tuple[bool, ...]

    @property
    def words(self) -> int:
        return len(self.text.split())


def _plain(mrkdwn: str) -> tuple[str, list[bool]]:
    out: list[str] = []
    bold: list[bool] = []
    for raw_line in mrkdwn.split("\n"):
        line = raw_line[2:] if raw_line.startswith("> ") else raw_line
        line = _ITALIC.sub(r"\1", line)
        position = 0
        for match in _BOLD.finditer(line):
            before = line[position : match.start()]
            out.append(before)
            bold += [False] * len(before)
            out.append(match.group(1))
            bold += [True] * len(match.group(1))
            position = match.end()
        out.append(line[position:] + "\n")
        bold += [False] * (len(line) - position + 1)
    text = "".join(out)
    for entity, char in _ENTITIES:
        # Entities are rare in answers; keep the bold mask aligned by unescaping char by char.
        while entity in text:
            at = text.index(entity)
            text = text[:at] + char + text[at + len(entity) :]
            bold = bold[:at] + bold[at : at + 1] + bold[at + len(entity) :]
    return text, bold


def message_text(message: dict[str, Any]) -> MessageText:
    """The visible text of a Block Kit message (sections and context), with its bold mask."""
    texts: list[str] = []
    masks: list[bool] = []
    for block in message.get("blocks", []):
        parts = []
        if block.get("type") == "section" and block.get("text"):
            parts.append(block["text"]["text"])
        elif block.get("type") == "context":
            parts += [e["text"] for e in block.get("elements", []) if e.get("type") == "mrkdwn"]
        for part in parts:
            text, mask = _plain(part)
            texts.append(text)
            masks += mask
    return MessageText(text="".join(texts), bold=tuple(masks))


def _normalise(text: str) -> tuple[str, list[int]]:
    """Case-folded text with white space collapsed, and each kept character's position."""
    chars: list[str] = []
    where: list[int] = []
    space = True
    for position, char in enumerate(text):
        if char.isspace():
            if not space:
                chars.append(" ")
                where.append(position)
            space = True
            continue
        chars.append(char.casefold())
        where.append(position)
        space = False
    return "".join(chars), where


def _occurrences(haystack: str, needle: str) -> list[int]:
    found, start = [], haystack.find(needle)
    while start != -1 and needle:
        found.append(start)
        start = haystack.find(needle, start + 1)
    return found


@dataclass(frozen=True)
class QuestionResult:
    id: str
    kind: str
    answered: bool
    lead_word: int | None  # where the first gold span starts, in words
    list_complete: bool | None
    bold_chars: int
    bold_answer_chars: int
    visible_chars: int
    words: int


def measure(question: EvalQuestion, message: dict[str, Any], *, answered: bool) -> QuestionResult:
    shown = message_text(message)
    flat, where = _normalise(shown.text)
    gold = [" ".join(s.split()).casefold() for s in (*question.answers, *question.list_items)]
    in_gold = [False] * len(shown.text)
    starts: list[int] = []
    for span in gold:
        for at in _occurrences(flat, span):
            starts.append(where[at])
            for k in range(at, at + len(span)):
                in_gold[where[k]] = True
    lead_word = len(shown.text[: min(starts)].split()) if starts else None
    complete = None
    if question.list_items:
        complete = all(
            _occurrences(flat, " ".join(s.split()).casefold()) for s in question.list_items
        )
    bold_chars = sum(1 for i, b in enumerate(shown.bold) if b and not shown.text[i].isspace())
    bold_answer = sum(
        1 for i, b in enumerate(shown.bold) if b and in_gold[i] and not shown.text[i].isspace()
    )
    return QuestionResult(
        id=question.id,
        kind=question.kind,
        answered=answered,
        lead_word=lead_word,
        list_complete=complete,
        bold_chars=bold_chars,
        bold_answer_chars=bold_answer,
        visible_chars=sum(1 for c in shown.text if not c.isspace()),
        words=shown.words,
    )


@dataclass(frozen=True)
class CompositionReport:
    questions: int
    lead_within_60: float
    lists: int
    lists_complete: float
    bold_is_answer: float
    bold_share: float
    median_words: float
    results: tuple[QuestionResult, ...]

    def misses(self) -> list[str]:
        """Questions whose answer did not start in the first 60 words or whose list was cut."""
        return [
            f"{r.id} ({r.kind}): "
            + ("not answered" if not r.answered else f"answer at word {r.lead_word}")
            + ("" if r.list_complete in (None, True) else ", list incomplete")
            for r in self.results
            if r.lead_word is None or r.lead_word >= LEAD_WORDS or r.list_complete is False
        ]


def summarise(results: Sequence[QuestionResult]) -> CompositionReport:
    lists = [r for r in results if r.list_complete is not None]
    bold = sum(r.bold_chars for r in results)
    words = [r.words for r in results if r.answered]
    return CompositionReport(
        questions=len(results),
        lead_within_60=sum(r.lead_word is not None and r.lead_word < LEAD_WORDS for r in results)
        / max(1, len(results)),
        lists=len(lists),
        lists_complete=sum(bool(r.list_complete) for r in lists) / max(1, len(lists)),
        bold_is_answer=sum(r.bold_answer_chars for r in results) / bold if bold else 1.0,
        bold_share=bold / max(1, sum(r.visible_chars for r in results)),
        median_words=statistics.median(words) if words else 0.0,
        results=tuple(results),
    )


def evaluate_composition(
    answers: AnswerService, eval_set: EvalSet, *, progress: bool = False
) -> CompositionReport:
    """Answer every in-domain question and measure the Slack message it would get."""
    results = []
    for question in tqdm(
        eval_set.in_domain,
        desc="Composing answers",
        disable=not progress,
        file=sys.stderr,
        leave=False,
    ):
        answer = answers.answer(question.question)
        message = answer_message(answer, answer_id=1)
        results.append(measure(question, message, answered=answer.answered))
    return summarise(results)


def format_composition(report: CompositionReport) -> str:
    rows = [
        ("answer starts within the first 60 words", f"{report.lead_within_60:.3f}", ">= 0.90"),
        (
            f"lists complete ({report.lists} list questions)",
            f"{report.lists_complete:.3f}" if report.lists else "-",
            ">= 0.90",
        ),
        ("bold that is answer", f"{report.bold_is_answer:.3f}", ">= 0.70"),
        ("bold share of visible text", f"{report.bold_share:.3f}", "< 0.333"),
        ("median words per answer", f"{report.median_words:.1f}", "<= 130"),
    ]
    lines = [f"{'answer composition (the Slack message)':<44} {'measured':>8}   target"]
    lines += [f"  {name:<42} {value:>8}   {target}" for name, value, target in rows]
    lines.append(f"  ({report.questions} in-domain questions)")
    return "\n".join(lines)
