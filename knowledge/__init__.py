"""The knowledge base: markdown documents plus validated checklists and pitfalls.

Markdown documents live anywhere below the knowledge folder (``articles/`` for the shipped ones);
``checklists.yaml``, ``pitfalls.yaml`` and ``pitfall_training_messages.yaml`` sit at its top;
``eval/`` holds the project's own evaluation sets, which are not indexed.
"""

from __future__ import annotations

from pathlib import Path

from knowledge.errors import KnowledgeError
from knowledge.schema import Checklists, EvalSet, LabelledMessages, Pitfalls
from knowledge.yamlfile import load_yaml_model

__all__ = [
    "DEFAULT_KNOWLEDGE_DIR",
    "EVAL_DIR",
    "TRAINING_MESSAGES",
    "KnowledgeError",
    "load_checklists",
    "load_eval_set",
    "load_labelled_messages",
    "load_pitfalls",
]

DEFAULT_KNOWLEDGE_DIR = Path(__file__).resolve().parent
EVAL_DIR = DEFAULT_KNOWLEDGE_DIR / "eval"
# Labelled messages that train the pitfall detector beside pitfalls.yaml.
TRAINING_MESSAGES = "pitfall_training_messages.yaml"


def load_checklists(path: Path = DEFAULT_KNOWLEDGE_DIR / "checklists.yaml") -> Checklists:
    return load_yaml_model(path, Checklists)


def load_pitfalls(path: Path = DEFAULT_KNOWLEDGE_DIR / "pitfalls.yaml") -> Pitfalls:
    return load_yaml_model(path, Pitfalls)


def load_eval_set(path: Path = EVAL_DIR / "questions.yaml") -> EvalSet:
    return load_yaml_model(path, EvalSet)


def load_labelled_messages(
    path: Path = EVAL_DIR / "pitfall_messages.yaml", *, pitfalls: Pitfalls | None = None
) -> LabelledMessages:
    """Labelled messages; with ``pitfalls``, every pitfall id must be in that catalogue."""
    context = {"pitfall_ids": [p.id for p in pitfalls.pitfalls]} if pitfalls else None
    return load_yaml_model(path, LabelledMessages, context=context)
