"""The knowledge folder's documents: list them, add files to it, take one out.

What `mlbot docs` does; the rebuild after a change is the caller's (and incremental).
"""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from index.documents import (
    DOCUMENT_SUFFIXES,
    discover_documents,
    hints_path,
    read_any,
)
from index.store import IndexStoreError, read_passages
from knowledge.errors import KnowledgeError

__all__ = ["DocumentInfo", "add_documents", "list_documents", "remove_document"]


@dataclass(frozen=True)
class DocumentInfo:
    id: str
    title: str
    format: str
    path: str
    passages: int | None  # in the live index; None when it is not in it (not built yet)
    built_at: str | None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "format": self.format,
            "path": self.path,
            "passages": self.passages,
            "built_at": self.built_at,
        }


def _indexed(index_dir: Path) -> tuple[dict[str, tuple[str, str]], Counter[str], str | None]:
    """From the live index: each path's (id, title), passages per path, and the build time."""
    try:
        manifest, passages = read_passages(index_dir)
    except IndexStoreError:
        return {}, Counter(), None
    names: dict[str, tuple[str, str]] = {}
    counts: Counter[str] = Counter()
    for passage in passages:
        names.setdefault(passage.path, (passage.doc_id, passage.doc_title))
        counts[passage.path] += 1
    return names, counts, manifest.built_at


def list_documents(knowledge_dir: Path, index_dir: Path) -> list[DocumentInfo]:
    """Every document in the folder, with what the live index holds of it."""
    names, counts, built_at = _indexed(index_dir)
    out = []
    for path in discover_documents(knowledge_dir):
        relative = path.relative_to(knowledge_dir).as_posix()
        if relative in names:
            doc_id, title = names[relative]
        else:
            try:
                document = read_any(path, root=knowledge_dir)
                doc_id, title = document.id, document.title
            except KnowledgeError as exc:
                doc_id, title = Path(relative).with_suffix("").as_posix(), f"(unreadable: {exc})"
        out.append(
            DocumentInfo(
                id=doc_id,
                title=title,
                format=path.suffix.lower().lstrip("."),
                path=relative,
                passages=counts.get(relative),
                built_at=built_at if relative in counts else None,
            )
        )
    return out


def add_documents(knowledge_dir: Path, files: list[Path], *, replace: bool = False) -> list[Path]:
    """Copy ``files`` into the knowledge folder (its ``articles/`` when there is one).

    Every file is read first: a format we cannot read, a damaged or encrypted file, or a name
    already taken (unless ``replace``) raises :class:`KnowledgeError` and nothing is copied.
    """
    target = knowledge_dir / "articles" if (knowledge_dir / "articles").is_dir() else knowledge_dir
    plan = []
    for source in files:
        if not source.is_file():
            raise KnowledgeError(source, None, "no such file")
        if source.suffix.lower() not in DOCUMENT_SUFFIXES:
            known = ", ".join(sorted(DOCUMENT_SUFFIXES))
            raise KnowledgeError(source, None, f"not a document format I read ({known})")
        read_any(source)  # raises, naming the file, when it cannot be read
        destination = target / source.name
        if destination.exists() and not replace:
            raise KnowledgeError(
                destination, None, "a document of that name is already in the knowledge folder"
            )
        plan.append((source, destination))
    target.mkdir(parents=True, exist_ok=True)
    for source, destination in plan:
        shutil.copyfile(source, destination)
    return [destination for _, destination in plan]


def remove_document(knowledge_dir: Path, doc_id: str) -> Path:
    """Delete the document with this id (and its hints file) from the knowledge folder."""
    paths = discover_documents(knowledge_dir)
    match = None
    for path in paths:
        relative = path.relative_to(knowledge_dir)
        if doc_id in (relative.with_suffix("").as_posix(), relative.as_posix(), path.stem):
            match = path
            break
    if match is None:
        for path in paths:  # ids set in a document's front matter
            try:
                if read_any(path, root=knowledge_dir).id == doc_id:
                    match = path
                    break
            except KnowledgeError:
                continue
    if match is None:
        raise KnowledgeError(knowledge_dir, None, f"no document with id {doc_id!r}")
    if len(paths) == 1:
        raise KnowledgeError(
            match, None, "it is the only document: the knowledge base would be empty"
        )
    match.unlink()
    hints_path(match).unlink(missing_ok=True)
    return match
