"""Question -> Answer: cleaned question, quoted passages, highlights, confidence. No Slack types."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from index.compose import Composer, Composition
from index.documents import Passage
from index.search import Retriever
from index.text import clean_text
from knowledge.schema import Checklists

__all__ = ["Answer", "AnswerPassage", "AnswerService", "QuestionError", "clean_question"]


# Hits the composer may draw on (the lead may come from below the passages listed).
COMPOSE_DEPTH = 5


class QuestionError(ValueError):
    """The question cannot be answered as asked (for example, it is empty)."""


def clean_question(raw: str, *, max_chars: int) -> tuple[str, bool]:
    """Normalise a question; returns (question, truncated). Empty questions raise."""
    question = clean_text(raw)
    if not question or not any(ch.isalnum() for ch in question):
        raise QuestionError("Please ask a question: the text was empty.")
    if len(question) > max_chars:
        return question[:max_chars].rstrip(), True
    return question, False


@dataclass(frozen=True)
class AnswerPassage:
    text: str
    source: str
    section: str
    score: float
    highlights: tuple[str, ...]
    doc_id: str
    path: str
    line: int


@dataclass(frozen=True)
class Answer:
    question: str
    answered: bool
    passages: tuple[AnswerPassage, ...]
    confidence: float
    nearest_topics: tuple[str, ...] = ()
    truncated: bool = False
    related_checklist: str | None = None
    # The answer as a reader sees it: the answering quote first, then support (when answered).
    composition: Composition | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The public JSON contract of `mlbot ask --json` (extra keys are additive)."""
        return {
            "question": self.question,
            "answered": self.answered,
            "passages": [
                {
                    "text": p.text,
                    "source": p.source,
                    "section": p.section,
                    "score": round(p.score, 4),
                    "highlights": list(p.highlights),
                }
                for p in self.passages
            ],
            "confidence": round(self.confidence, 4),
            "nearest_topics": list(self.nearest_topics),
            "truncated": self.truncated,
            "related_checklist": self.related_checklist,
            "answer": self.composition.to_json() if self.composition else None,
        }


class AnswerService:
    """Turns a question into an :class:`Answer` using the retriever and the checklists."""

    def __init__(
        self,
        *,
        retriever: Retriever,
        checklists: Checklists | None = None,
        passages: int = 3,
        max_question_chars: int = 2000,
    ) -> None:
        self.retriever = retriever
        self.passages = passages
        self.max_question_chars = max_question_chars
        self._checklist_by_section = _checklists_by_section(checklists)
        self.composer = Composer(retriever)
        self._prompts: dict[int, list[tuple[str, str]]] = {}

    def answer(self, question: str, *, k: int | None = None, context: str | None = None) -> Answer:
        cleaned, truncated = clean_question(question, max_chars=self.max_question_chars)
        if context:
            context, _ = clean_question(context, max_chars=self.max_question_chars)
        shown = k or self.passages
        # Composing looks a little further down the ranking than the passages it lists.
        result = self.retriever.search(
            cleaned, k=max(shown, COMPOSE_DEPTH), context=context or None
        )
        if not result.answered:
            return Answer(
                question=cleaned,
                answered=False,
                passages=(),
                confidence=result.confidence,
                nearest_topics=tuple(result.nearest_sections),
                truncated=truncated,
            )
        passages = tuple(
            AnswerPassage(
                text=hit.passage.text,
                source=hit.passage.doc_title,
                section=hit.passage.section,
                score=hit.score,
                highlights=hit.highlights,
                doc_id=hit.passage.doc_id,
                path=hit.passage.path,
                line=hit.passage.line,
            )
            for hit in result.hits[:shown]
        )
        composition = self.composer.compose(result)
        return Answer(
            question=cleaned,
            answered=True,
            passages=passages,
            confidence=result.confidence,
            nearest_topics=tuple(result.nearest_sections),
            truncated=truncated,
            related_checklist=self._related_checklist(composition, passages),
            composition=composition,
        )

    def suggested_prompts(self, *, limit: int = 4) -> list[tuple[str, str]]:
        """Up to ``limit`` (title, question) prompts covering the knowledge base's main
        topics: the largest top-level sections of each document, one document at a time.
        A section's first hint question asks for it where there is one; else it is named.
        Worked out once per limit (the index does not change under a service)."""
        if limit not in self._prompts:
            self._prompts[limit] = self._derive_prompts(limit)
        return list(self._prompts[limit])

    def _derive_prompts(self, limit: int) -> list[tuple[str, str]]:
        by_doc: dict[str, dict[str, list[Passage]]] = {}
        for passage in self.retriever.index.passages:
            top = passage.section.split(" > ")[0] if passage.section else ""
            if top:
                by_doc.setdefault(passage.doc_id, {}).setdefault(top, []).append(passage)
        # Each document's sections, largest first; then one from each document in turn.
        queues = [
            sorted(sections.items(), key=lambda item: -len(item[1])) for sections in by_doc.values()
        ]
        picked: list[tuple[str, list[Passage]]] = []
        while len(picked) < limit and any(queues):
            for queue in queues:
                if queue and len(picked) < limit:
                    picked.append(queue.pop(0))
        prompts = []
        for top, passages in picked:
            title = _TOPIC_NUMBER.sub("", top).strip()
            head, _, rest = title.partition(": ")
            if rest and len(head.split()) <= 4:
                title = head  # "GOVERN-1: Policies, processes, … are in place" -> "GOVERN-1"
            hint = next((h for p in passages for h in p.hints), None)
            question = hint or f"What should we know about {title}?"
            prompts.append((_short(title, 40), _short(question, 200)))
        return prompts

    def _related_checklist(
        self, composition: Composition | None, passages: tuple[AnswerPassage, ...]
    ) -> str | None:
        if composition is not None:
            section = composition.lead.section
        elif passages:
            section = passages[0].section
        else:
            return None
        votes = self._checklist_by_section.get(section)
        return votes.most_common(1)[0][0] if votes else None


# "1. Strategies for…", "2) Design", "Part 3:" in a heading: not words a prompt needs.
_TOPIC_NUMBER = re.compile(r"^\s*(?:\d+[.):]\s*|part\s+\d+\s*[:.-]\s*)", re.IGNORECASE)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _checklists_by_section(checklists: Checklists | None) -> dict[str, Counter[str]]:
    """Which checklists cite each article section, and how often (to suggest one)."""
    table: dict[str, Counter[str]] = {}
    if checklists is None:
        return table
    for checklist in checklists.checklists:
        for item in checklist.all_items():
            table.setdefault(item.source.section, Counter())[checklist.id] += 1
    return table
