"""Load a YAML file into a pydantic model, reporting validation errors with file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from knowledge.errors import KnowledgeError, LocatedValueError

__all__ = ["load_yaml_model", "load_yaml_model_with_lines"]

M = TypeVar("M", bound=BaseModel)
_Loc = tuple[int | str, ...]


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: much faster


def _compose(text: str) -> yaml.Node:
    """The node tree of a document already known to parse and to be non-empty."""
    node = yaml.compose(text, Loader=_Loader)
    assert node is not None
    return node


def _lines(node: yaml.Node, loc: _Loc, lines: dict[_Loc, int]) -> None:
    """Record the line of every value in a composed YAML tree, by its location."""
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            _lines(value_node, (*loc, key_node.value), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*loc, i), lines)


def _line_for(loc: _Loc, lines: dict[_Loc, int]) -> int | None:
    # A missing field has no line of its own: fall back to its nearest parent that has one.
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def load_yaml_model(path: Path, model: type[M], *, context: dict[str, Any] | None = None) -> M:
    """Parse ``path`` and validate it as ``model``; any problem raises :class:`KnowledgeError`."""
    return load_yaml_model_with_lines(path, model, context=context, want_lines=False)[0]


def load_yaml_model_with_lines(
    path: Path, model: type[M], *, context: dict[str, Any] | None = None, want_lines: bool = True
) -> tuple[M, dict[_Loc, int]]:
    """Like :func:`load_yaml_model`, also returning the line of every value by its location."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KnowledgeError(path, None, "file not found") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise KnowledgeError(path, line, "not valid UTF-8 text") from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise KnowledgeError(
            path, mark.line + 1 if mark else None, f"invalid YAML: {problem}"
        ) from None
    if data is None:
        raise KnowledgeError(path, 1, "the file is empty")
    lines: dict[_Loc, int] = {}
    # Line numbers are only needed to report a problem, or when the caller asks for them.
    if want_lines:
        _lines(_compose(text), (), lines)
    try:
        return model.model_validate(data, context=context), lines
    except ValidationError as exc:
        if not lines:
            _lines(_compose(text), (), lines)
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        cause = (first.get("ctx") or {}).get("error")
        if isinstance(cause, LocatedValueError):
            loc = (*loc, *cause.loc)
        field = ".".join(str(part) for part in loc) or "(top level)"
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise KnowledgeError(
            path, _line_for(loc, lines), f"{field}: {first['msg']}{more}"
        ) from None
