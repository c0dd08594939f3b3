"""The error type for bad knowledge files: it names the file and, when known, the line."""

from __future__ import annotations

from pathlib import Path

__all__ = ["KnowledgeError", "LocatedValueError"]


class KnowledgeError(ValueError):
    """A knowledge file is malformed. ``str(error)`` reads ``path:line: message``."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else f"{self.path}"
        super().__init__(f"{where}: {message}")


class LocatedValueError(ValueError):
    """Raised by a schema validator about one value deeper than the model it validates:
    ``loc`` (relative to that model) lets the loader name the value's own line."""

    def __init__(self, message: str, loc: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.loc = loc
