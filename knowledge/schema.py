"""Pydantic schemas of the structured knowledge files (checklists, pitfalls, evaluation sets)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from knowledge.errors import LocatedValueError

__all__ = [
    "Advice",
    "Checklist",
    "ChecklistItem",
    "Checklists",
    "CombinedExample",
    "EvalQuestion",
    "EvalSet",
    "Hint",
    "Hints",
    "LabelledMessage",
    "LabelledMessages",
    "OutOfDomainQuestion",
    "Pitfall",
    "Pitfalls",
    "SourceQuote",
    "Stage",
]

_SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceQuote(_Strict):
    """A verbatim quote and the section path (``"H2 > H3"``) it sits under."""

    section: str = Field(min_length=1)
    quote: str = Field(min_length=1)


Advice = SourceQuote


def _unique(ids: list[str], what: str) -> None:
    seen: set[str] = set()
    for ident in ids:
        if ident in seen:
            raise ValueError(f"duplicate {what} id {ident!r}")
        seen.add(ident)


class ChecklistItem(_Strict):
    id: str = Field(pattern=_SLUG)
    text: str = Field(min_length=1, max_length=150)
    source: SourceQuote


class Stage(_Strict):
    """Company-stage advice inside the team-structure checklist, chosen by head count."""

    id: str = Field(pattern=_SLUG)
    title: str
    min_employees: int = Field(ge=1)
    max_employees: int | None = None
    items: list[ChecklistItem] = Field(min_length=1)

    def covers(self, head_count: int) -> bool:
        upper = self.max_employees if self.max_employees is not None else head_count
        return self.min_employees <= head_count <= upper


class Checklist(_Strict):
    id: str = Field(pattern=_SLUG)
    title: str
    summary: str
    items: list[ChecklistItem] = Field(min_length=1)
    stages: list[Stage] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ids_unique(self) -> Checklist:
        _unique([item.id for item in self.all_items()], "item")
        return self

    def all_items(self) -> list[ChecklistItem]:
        return [*self.items, *(item for stage in self.stages for item in stage.items)]

    def stage_for(self, head_count: int) -> Stage | None:
        return next((stage for stage in self.stages if stage.covers(head_count)), None)


class Checklists(_Strict):
    checklists: list[Checklist] = Field(min_length=1)

    @field_validator("checklists")
    @classmethod
    def _ids_unique(cls, value: list[Checklist]) -> list[Checklist]:
        _unique([c.id for c in value], "checklist")
        return value

    def get(self, checklist_id: str) -> Checklist | None:
        return next((c for c in self.checklists if c.id == checklist_id), None)


class Pitfall(_Strict):
    id: str = Field(pattern=_SLUG)
    title: str
    source: SourceQuote
    advice: list[SourceQuote] = Field(min_length=1)
    examples: list[str] = Field(min_length=1)
    near_misses: list[str] = Field(default_factory=list)
    review_question: str


class LabelledMessage(_Strict):
    """A message and the pitfalls it exhibits (none for ordinary messages and near-misses)."""

    text: str = Field(min_length=1)
    pitfalls: list[str] = Field(default_factory=list)

    @field_validator("pitfalls")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a message names each pitfall once")
        return value


class CombinedExample(LabelledMessage):
    """A catalogue message that risks several pitfalls at once."""

    pitfalls: list[str] = Field(min_length=2)


def _name_known_pitfalls(
    messages: Sequence[LabelledMessage], known: Collection[str], field: str
) -> None:
    """Reject the first message that names a pitfall not in ``known``, at its own line."""
    for index, message in enumerate(messages):
        unknown = sorted(set(message.pitfalls) - set(known))
        if unknown:
            raise LocatedValueError(
                f"unknown pitfall id(s) {', '.join(unknown)}", (field, index, "pitfalls")
            )


class Pitfalls(_Strict):
    """The catalogue. ``examples``/``near_misses``/``combined_examples``/``unrelated_examples``
    train the detector."""

    pitfalls: list[Pitfall] = Field(min_length=1)
    combined_examples: list[CombinedExample] = Field(default_factory=list)
    unrelated_examples: list[str] = Field(default_factory=list)

    @field_validator("pitfalls")
    @classmethod
    def _ids_unique(cls, value: list[Pitfall]) -> list[Pitfall]:
        _unique([p.id for p in value], "pitfall")
        return value

    @model_validator(mode="after")
    def _combined_name_known_pitfalls(self) -> Pitfalls:
        _name_known_pitfalls(
            self.combined_examples, {p.id for p in self.pitfalls}, "combined_examples"
        )
        return self

    def get(self, pitfall_id: str) -> Pitfall | None:
        return next((p for p in self.pitfalls if p.id == pitfall_id), None)


class EvalQuestion(_Strict):
    """A question and the verbatim spans that answer it. ``list_items`` (one fragment from every
    item) marks a question whose answer is a whole list; ``kind`` groups questions in reports."""

    id: str
    question: str = Field(min_length=1)
    answers: list[str] = Field(min_length=1)
    kind: Literal["general", "list", "headcount", "readiness"] = "general"
    list_items: list[str] = Field(default_factory=list)
    doc: str | None = None

    @model_validator(mode="after")
    def _list_items_for_lists(self) -> EvalQuestion:
        if (self.kind == "list") != bool(self.list_items):
            raise ValueError("a list question names its list_items, and only a list question")
        return self


class OutOfDomainQuestion(_Strict):
    id: str
    question: str = Field(min_length=1)


class EvalSet(_Strict):
    in_domain: list[EvalQuestion] = Field(min_length=1)
    out_of_domain: list[OutOfDomainQuestion] = Field(min_length=1)


class LabelledMessages(_Strict):
    """Messages labelled with the pitfalls they exhibit. Loaded with the context
    ``{"pitfall_ids": ...}``, every id must be one of those."""

    messages: list[LabelledMessage] = Field(min_length=1)

    @model_validator(mode="after")
    def _name_known_pitfalls(self, info: ValidationInfo) -> LabelledMessages:
        known = (info.context or {}).get("pitfall_ids")
        if known is not None:
            _name_known_pitfalls(self.messages, known, "messages")
        return self


class Hint(_Strict):
    """Questions a passage answers, located by a verbatim snippet of the passage."""

    passage: str = Field(min_length=1)
    questions: list[str] = Field(min_length=1)

    @field_validator("passage")
    @classmethod
    def _snippet_in_document(cls, value: str, info: ValidationInfo) -> str:
        text = (info.context or {}).get("document_text")
        if text is not None and " ".join(value.split()) not in text:
            raise ValueError("this snippet does not occur in the document")
        return value


class Hints(_Strict):
    """Retrieval hints for one document (``<name>.hints.yaml`` beside ``<name>.md``)."""

    hints: list[Hint] = Field(default_factory=list)
