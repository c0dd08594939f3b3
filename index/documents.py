"""Markdown documents -> passages, each carrying its document title and section path.

A passage is one to a few sentences: list items and short paragraphs stay whole, longer
paragraphs are cut between sentences, and no passage is longer than ``MAX_PASSAGE_WORDS``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from index.text import split_sentences, word_count
from knowledge.errors import KnowledgeError
from knowledge.schema import Hints
from knowledge.yamlfile import load_yaml_model_with_lines

__all__ = [
    "CHUNKER_VERSION",
    "DOCUMENT_SUFFIXES",
    "ITEM",
    "LEAD_IN",
    "PARAGRAPH",
    "Document",
    "MAX_PASSAGE_WORDS",
    "Passage",
    "chunk_document",
    "discover_documents",
    "hints_path",
    "knowledge_checksum",
    "load_passages",
    "parse_document",
    "read_any",
    "read_utf8",
    "strip_inline_markdown",
]

MAX_PASSAGE_WORDS = 120
# A paragraph up to this long stays whole; longer ones are packed sentence by sentence.
WHOLE_PARAGRAPH_WORDS = 70
PACKED_WORDS = 55
# Bumped whenever chunking changes, so an index built by older code counts as stale.
CHUNKER_VERSION = 4
HINTS_SUFFIX = ".hints.yaml"

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s{0,3}(?:[-*+•]|\d{1,3}[.)])\s+(.*)$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_SKIPPED_NAMES = {"readme.md"}
# What the knowledge folder may hold: markdown here, the other formats in ``readers.py``.
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
DOCUMENT_SUFFIXES = MARKDOWN_SUFFIXES | {".txt", ".text", ".html", ".htm", ".pdf", ".docx"}
# Passage kinds.
PARAGRAPH, LEAD_IN, ITEM = "paragraph", "lead_in", "item"


@dataclass(frozen=True)
class Block:
    """A paragraph or list item. ``unit`` is the number of the block its answer unit starts at:
    a list's lead-in paragraph (or its first item when it has none) for the list's blocks, its
    own number otherwise."""

    text: str
    section: tuple[str, ...]
    line: int
    is_list_item: bool = False
    lead_in: str = ""
    unit: int = 0
    is_lead_in: bool = False
    page: int | None = None  # for paged formats (PDF): where a citation points


@dataclass(frozen=True)
class Document:
    """A parsed markdown document."""

    id: str
    title: str
    path: Path
    blocks: tuple[Block, ...]
    meta: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Passage:
    """A retrievable unit of text with its provenance."""

    doc_id: str
    doc_title: str
    section: str
    text: str
    sentences: tuple[str, ...]
    path: str
    line: int
    lead_in: str = ""
    hints: tuple[str, ...] = ()
    # Structure, for composing answers: the block (paragraph or list item) this passage comes
    # from, the block its unit starts at (a list shares its lead-in's) and what it is.
    block: int = 0
    unit: int = 0
    kind: str = PARAGRAPH
    page: int | None = None

    @property
    def keyword_text(self) -> str:
        """What BM25 sees: the passage with its section, list lead-in and hint questions."""
        return "\n".join(
            part
            for part in (self.section or self.doc_title, self.lead_in, self.text, *self.hints)
            if part
        )


def read_utf8(path: Path) -> str:
    """A text file's contents (a byte-order mark is dropped); invalid UTF-8 names its line."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise KnowledgeError(
            path, raw[: exc.start].count(b"\n") + 1, "not valid UTF-8 text"
        ) from None


def _front_matter(path: Path, lines: list[str]) -> tuple[dict[str, object], int]:
    """Return the front matter mapping and the index of the first body line."""
    if not lines or lines[0].strip() != "---":
        return {}, 0
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        raise KnowledgeError(path, 1, "front matter opened with '---' is never closed")
    try:
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise KnowledgeError(path, line, f"invalid YAML in front matter: {problem}") from None
    if not isinstance(meta, dict):
        raise KnowledgeError(path, 2, "front matter must be a mapping of keys to values")
    for key in ("title", "id", "kind"):
        if key in meta and not isinstance(meta[key], str):
            raise KnowledgeError(path, 2, f"front matter '{key}' must be text")
    if "date" in meta and not isinstance(meta["date"], (dt.date, str)):
        raise KnowledgeError(path, 2, "front matter 'date' must be a date like 2021-03-31")
    return meta, end + 1


# Inline markdown that is markup, not words: emphasis, links, images, inline code.
_INLINE = (
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images: their alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links: their text
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])"), r"\1"),
    (re.compile(r"`([^`]+)`"), r"\1"),
)


def strip_inline_markdown(text: str) -> str:
    """The words of a line of markdown without its inline markup (``**bold**`` -> bold)."""
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    return text


class BlockBuilder:
    """Turns a document's headings, paragraphs and list items, in reading order, into blocks
    with their section path and answer unit. Every format's reader feeds one of these, so the
    structure rules (a list and its lead-in are one unit) are the same for all of them."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.title = ""
        self._headings: list[tuple[int, str]] = []
        self._lead_in = ""

    def _section(self) -> tuple[str, ...]:
        return tuple(text for _, text in self._headings)

    def heading(self, level: int, text: str) -> None:
        """A heading; level 1 is the document's title (the first one names the document)."""
        self._lead_in = ""
        if level <= 1:
            self.title = self.title or text
            self._headings = []
            return
        self._headings = [(lvl, t) for lvl, t in self._headings if lvl < level]
        self._headings.append((level, text))

    def paragraph(self, text: str, *, line: int, page: int | None = None) -> None:
        text = " ".join(text.split())
        if not text:
            return
        self.blocks.append(
            Block(text=text, section=self._section(), line=line, unit=len(self.blocks), page=page)
        )
        # A paragraph ending with a colon introduces the list after it: its last sentence is
        # the list's lead-in.
        self._lead_in = split_sentences(text)[-1] if text.endswith(":") else ""

    def item(self, text: str, *, line: int, page: int | None = None) -> None:
        text = " ".join(text.split())
        if not text:
            return
        before = self.blocks[-1] if self.blocks else None
        lead_in = self._lead_in
        if (
            before is not None
            and before.section == self._section()
            and (before.is_list_item or (lead_in and before.text.endswith(lead_in)))
        ):
            unit = before.unit  # the next item of a list, or the first after its lead-in
            if not before.is_list_item:
                self.blocks[-1] = replace(before, is_lead_in=True)
        else:
            unit = len(self.blocks)
        self.blocks.append(
            Block(
                text=text,
                section=self._section(),
                line=line,
                is_list_item=True,
                lead_in=lead_in,
                unit=unit,
                page=page,
            )
        )


def parse_document(path: Path, *, root: Path | None = None) -> Document:
    """Parse one markdown file; a malformed one raises :class:`KnowledgeError` naming the line."""
    lines = read_utf8(path).splitlines()
    meta, body_start = _front_matter(path, lines)
    builder = BlockBuilder()
    builder.title = str(meta.get("title") or "")
    paragraph: list[str] = []
    paragraph_line = 0
    item: list[str] = []
    item_line = 0
    fence_line = 0

    def flush() -> None:
        nonlocal paragraph, item
        if paragraph:
            builder.paragraph(strip_inline_markdown(" ".join(paragraph)), line=paragraph_line)
        if item:
            builder.item(strip_inline_markdown(" ".join(item)), line=item_line)
        paragraph, item = [], []

    for number, line in enumerate(lines[body_start:], start=body_start + 1):
        if fence_line:
            if _FENCE.match(line):
                fence_line = 0
            continue
        if _FENCE.match(line):
            flush()
            fence_line = number  # code is not prose: it is skipped, not quoted
            continue
        heading = _HEADING.match(line)
        if heading:
            flush()
            text = strip_inline_markdown(heading.group(2).strip())
            if not text:
                raise KnowledgeError(path, number, "heading has no text")
            builder.heading(len(heading.group(1)), text)
            continue
        if not line.strip():
            flush()
            continue
        list_item = _LIST_ITEM.match(line)
        if list_item:
            flush()
            item, item_line = [list_item.group(1)], number
        elif item:
            item.append(line)
        else:
            if not paragraph:
                paragraph_line = number
            paragraph.append(line)
    if fence_line:
        raise KnowledgeError(path, fence_line, "code block opened here is never closed")
    flush()
    return make_document(path, root=root, builder=builder, meta=meta)


def make_document(
    path: Path, *, root: Path | None, builder: BlockBuilder, meta: dict[str, object] | None = None
) -> Document:
    """The :class:`Document` a reader built; its id is the path below ``root`` unless set."""
    meta = meta or {}
    relative = path.relative_to(root) if root else path
    doc_id = str(meta.get("id") or relative.with_suffix("").as_posix())
    return Document(
        id=doc_id,
        title=builder.title or path.stem.replace("-", " ").replace("_", " ").title(),
        path=relative,
        blocks=tuple(builder.blocks),
        meta=meta,
    )


def _split_long_sentence(sentence: str) -> Iterator[str]:
    words = sentence.split()
    for start in range(0, len(words), MAX_PASSAGE_WORDS):
        yield " ".join(words[start : start + MAX_PASSAGE_WORDS])


def _pack(sentences: list[str]) -> Iterator[list[str]]:
    """Group consecutive sentences into passages of a few sentences each."""
    group: list[str] = []
    for sentence in sentences:
        if word_count(sentence) > MAX_PASSAGE_WORDS:
            if group:
                yield group
                group = []
            for piece in _split_long_sentence(sentence):
                yield [piece]
            continue
        if group and word_count(" ".join([*group, sentence])) > PACKED_WORDS:
            yield group
            group = []
        group.append(sentence)
    if group:
        yield group


def chunk_document(document: Document) -> list[Passage]:
    passages: list[Passage] = []
    for number, block in enumerate(document.blocks):
        sentences = split_sentences(block.text)
        if word_count(block.text) <= (
            MAX_PASSAGE_WORDS if block.is_list_item else WHOLE_PARAGRAPH_WORDS
        ):
            groups = [sentences]
        else:
            groups = list(_pack(sentences))
        for position, group in enumerate(groups):
            if block.is_list_item:
                kind = ITEM
            elif block.is_lead_in and position == len(groups) - 1:
                kind = LEAD_IN  # the part of the paragraph that holds the lead-in sentence
            else:
                kind = PARAGRAPH
            passages.append(
                Passage(
                    doc_id=document.id,
                    doc_title=document.title,
                    section=" > ".join(block.section),
                    text=" ".join(group),
                    sentences=tuple(group),
                    path=document.path.as_posix(),
                    line=block.line,
                    lead_in=block.lead_in,
                    block=number,
                    unit=block.unit,
                    kind=kind,
                    page=block.page,
                )
            )
    return passages


def discover_documents(knowledge_dir: Path) -> list[Path]:
    """Documents below ``knowledge_dir`` in a stable order (READMEs and eval/ skipped)."""
    if not knowledge_dir.is_dir():
        raise KnowledgeError(knowledge_dir, None, "knowledge folder not found")
    found = []
    for path in sorted(knowledge_dir.rglob("*")):
        if path.suffix.lower() not in DOCUMENT_SUFFIXES or not path.is_file():
            continue
        relative = path.relative_to(knowledge_dir)
        if path.name.lower() in _SKIPPED_NAMES or relative.parts[0] == "eval":
            continue
        if any(part.startswith(".") for part in relative.parts):
            continue
        found.append(path)
    return found


def read_any(path: Path, *, root: Path | None = None) -> Document:
    """Parse a document of any supported format."""
    if path.suffix.lower() in MARKDOWN_SUFFIXES:
        return parse_document(path, root=root)
    from index.readers import read_document  # parsers for PDF, HTML, DOCX: only when needed

    return read_document(path, root=root)


def load_passages(
    knowledge_dir: Path, *, on_error: Callable[[KnowledgeError], None] | None = None
) -> tuple[list[Document], list[Passage]]:
    """Parse every document and chunk it. A malformed file raises, unless ``on_error`` is
    given: then it is told, and the file is left out."""
    documents = []
    for path in discover_documents(knowledge_dir):
        try:
            documents.append(read_any(path, root=knowledge_dir))
        except KnowledgeError as exc:
            if on_error is None:
                raise
            on_error(exc)
    if not documents:
        raise KnowledgeError(knowledge_dir, None, "no documents found to index")
    seen: dict[str, Path] = {}
    for doc in documents:
        if doc.id in seen:
            raise KnowledgeError(
                knowledge_dir / doc.path,
                1,
                f"document id {doc.id!r} is also used by {seen[doc.id]}",
            )
        seen[doc.id] = doc.path
    passages = []
    for doc in documents:
        passages.extend(_attach_hints(knowledge_dir / doc.path, doc, chunk_document(doc)))
    return documents, passages


def hints_path(document_path: Path) -> Path:
    return document_path.with_name(document_path.stem + HINTS_SUFFIX)


def _attach_hints(
    document_path: Path, document: Document, passages: list[Passage]
) -> list[Passage]:
    """Give each passage the annotated questions it answers (from ``<doc>.hints.yaml``)."""
    path = hints_path(document_path)
    if not path.exists() or not passages:
        return passages
    flat = " ".join(" ".join(block.text for block in document.blocks).split())
    hints, lines = load_yaml_model_with_lines(path, Hints, context={"document_text": flat})
    extra: dict[int, list[str]] = {}
    for number, hint in enumerate(hints.hints):
        snippet = " ".join(hint.passage.split())
        owner = next((i for i, p in enumerate(passages) if snippet in p.text), None)
        if owner is None:
            raise KnowledgeError(
                path,
                lines.get(("hints", number, "passage")),
                "this snippet spans two passages; quote a part that lies within one",
            )
        extra.setdefault(owner, []).extend(hint.questions)
    return [
        replace(p, hints=p.hints + tuple(extra[i])) if i in extra else p
        for i, p in enumerate(passages)
    ]


def knowledge_checksum(knowledge_dir: Path) -> str:
    """A fingerprint of every indexed file's name and bytes, plus the chunker version."""
    digest = hashlib.sha256(f"chunker-v{CHUNKER_VERSION}".encode())
    for document in discover_documents(knowledge_dir):
        for path in (document, hints_path(document)):
            if path.exists():
                digest.update(path.relative_to(knowledge_dir).as_posix().encode() + b"\0")
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
