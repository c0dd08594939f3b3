"""Load a YAML file into a pydantic model, reporting validation errors with file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from knowledge.errors import KnowledgeError

__all__ = ["load_yaml_model", "load_yaml_model_with_lines"]

M = TypeVar("M", bound=BaseModel)
_Loc = tuple[int | str, ...]


def _to_python(node: yaml.Node, loc: _Loc, lines: dict[_Loc, int]) -> Any:
    """Turn a composed YAML node tree into plain Python, remembering each value's line."""
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node))
            out[key] = _to_python(value_node, (*loc, key), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*loc, i), lines) for i, item in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def _line_for(loc: _Loc, lines: dict[_Loc, int]) -> int | None:
    # A missing field has no line of its own: fall back to its nearest parent that has one.
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def load_yaml_model(path: Path, model: type[M], *, context: dict[str, Any] | None = None) -> M:
    """Parse ``path`` and validate it as ``model``; any problem raises :class:`KnowledgeError`."""
    return load_yaml_model_with_lines(path, model, context=context)[0]


def load_yaml_model_with_lines(
    path: Path, model: type[M], *, context: dict[str, Any] | None = None
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
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise KnowledgeError(
            path, mark.line + 1 if mark else None, f"invalid YAML: {problem}"
        ) from None
    if node is None:
        raise KnowledgeError(path, 1, "the file is empty")
    lines: dict[_Loc, int] = {}
    data = _to_python(node, (), lines)
    try:
        return model.model_validate(data, context=context), lines
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        field = ".".join(str(part) for part in loc) or "(top level)"
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise KnowledgeError(
            path, _line_for(loc, lines), f"{field}: {first['msg']}{more}"
        ) from None
