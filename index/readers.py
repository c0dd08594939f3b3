"""Readers for the formats people have: plain text, HTML, PDF and DOCX (markdown lives in
``documents.py``). Each maps the format's headings to sections and feeds paragraphs and list
items to a :class:`BlockBuilder`, so every format gets the same answer units.

Well-kept parsers do the reading: BeautifulSoup for HTML, pdfminer.six for PDF (its layout
analysis gives text boxes and font sizes, from which headings are told apart), python-docx for
DOCX. A file they cannot read, or an encrypted one, raises :class:`KnowledgeError` naming it
(and the line or page where known).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from index.documents import BlockBuilder, Document, make_document, read_utf8
from knowledge.errors import KnowledgeError

__all__ = ["READERS", "SUFFIXES", "read_document"]

# A line that starts a list item in plain text: a bullet glyph, a dash, or "1." / "a)".
_BULLET = re.compile(r"^\s*(?:[•●▪◦‣∙·○■□–—*-]|\(?\d{1,3}[.)]|\(?[a-z][.)])\s+(.*)$")
# In a PDF a dash at the start of a line is usually a sentence's own dash: only glyphs count.
_PDF_BULLET = re.compile(r"^\s*(?:[•●▪◦‣∙○■□]|\(?\d{1,2}[.)])\s+(.*)$")
# A numbered heading: "1.2 Challenges for AI Risk Management", "3. Framing Risk".
_PAGE_NUMBER = re.compile(r"^(?:page\s*)?#(?:\s*(?:of|/)\s*#)?$", re.IGNORECASE)
_CONTENTS = re.compile(
    r"^(?:table of )?contents$|^list of (?:tables|figures|illustrations)$", re.IGNORECASE
)
_NUMBERED_HEADING = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+[A-Z]")
_SENTENCE_END = re.compile(r"[.!?:;”\"')\]]$")
# A line that stops where a sentence cannot end: after a lower-case word or a comma.
_MID_SENTENCE = re.compile(r"(?:\b[a-z]+|,)$")


# Plain text ------------------------------------------------------------------------------------


def _looks_like_heading(lines: list[str]) -> bool:
    """A paragraph that is one short line without closing punctuation reads as a heading."""
    if len(lines) != 1:
        return False
    line = lines[0].strip()
    return 0 < len(line.split()) <= 12 and not _SENTENCE_END.search(line) and line[0].isalnum()


def read_text(path: Path, *, root: Path | None = None) -> Document:
    """Plain text: paragraphs are separated by blank lines; a short line standing alone is a
    heading (the first one names the document); "- ", "• ", "1. " start list items."""
    builder = BlockBuilder()
    paragraph: list[str] = []
    start = 0

    def flush() -> None:
        nonlocal paragraph
        if not paragraph:
            return
        if _looks_like_heading(paragraph):
            builder.heading(1 if not builder.title else 2, paragraph[0].strip())
        else:
            _feed_lines(builder, paragraph, line=start)
        paragraph = []

    for number, line in enumerate(read_utf8(path).splitlines(), start=1):
        if not line.strip():
            flush()
            continue
        if not paragraph:
            start = number
        paragraph.append(line)
    flush()
    if not builder.blocks:
        raise KnowledgeError(path, None, "no text to index")
    return make_document(path, root=root, builder=builder)


def _feed_lines(
    builder: BlockBuilder,
    lines: list[str],
    *,
    line: int,
    page: int | None = None,
    bullet_pattern: re.Pattern[str] = _BULLET,
) -> None:
    """Lines of one paragraph: bulleted lines become list items (continuation lines join the
    item before them); other lines are prose."""
    prose: list[str] = []
    item: list[str] = []
    item_line = line

    def flush_item() -> None:
        nonlocal item
        if item:
            builder.item(_join_lines(item), line=item_line, page=page)
        item = []

    for offset, text in enumerate(lines):
        bullet = bullet_pattern.match(text)
        if bullet:
            if prose:
                builder.paragraph(_join_lines(prose), line=line, page=page)
                prose = []
            flush_item()
            item, item_line = [bullet.group(1)], line + offset
        elif item:
            item.append(text)
        else:
            prose.append(text)
    flush_item()
    if prose:
        builder.paragraph(_join_lines(prose), line=line, page=page)


def _join_lines(lines: list[str]) -> str:
    """Lines of one paragraph as one text, mending words hyphenated across a line break."""
    out = ""
    for raw in lines:
        text = raw.strip()
        if not text:
            continue
        if out.endswith("-") and not out.endswith(" -") and text[:1].islower():
            out = out[:-1] + text
        else:
            out = f"{out} {text}" if out else text
    return out


# HTML ------------------------------------------------------------------------------------------

_SKIPPED_TAGS = {"script", "style", "noscript", "template", "nav", "footer", "header", "svg"}
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCK_TAGS = {"p", "li", "dd", "dt", "blockquote", "pre", "td", "th", "figcaption", "caption"}
_CONTAINERS = {"div", "section", "article", "main", "body", "span", "td"}


def read_html(path: Path, *, root: Path | None = None) -> Document:
    """HTML (Confluence, Notion or browser exports): h1–h6 are sections, <li> list items,
    <p> and other text blocks paragraphs; navigation, scripts and styles are skipped."""
    from bs4 import BeautifulSoup, NavigableString, Tag

    raw = path.read_bytes()
    try:
        soup = BeautifulSoup(raw, "html.parser")
    except Exception as exc:  # the parser is lenient; this is a file it cannot read at all
        raise KnowledgeError(path, None, f"not readable HTML ({exc})") from None
    builder = BlockBuilder()
    title_tag = soup.find("title")
    page_title = title_tag.get_text(" ", strip=True) if isinstance(title_tag, Tag) else ""
    for hidden in soup.find_all(_SKIPPED_TAGS):
        hidden.decompose()

    def own_text(tag: Tag) -> str:
        """The tag's text without nested lists (their items are blocks of their own)."""
        parts = []
        for child in tag.children:
            if isinstance(child, NavigableString):
                parts.append(str(child))
            elif isinstance(child, Tag) and child.name not in ("ul", "ol"):
                parts.append(child.get_text(" "))
        return " ".join(" ".join(parts).split())

    def walk(tag: Tag) -> None:
        for child in tag.children:
            if not isinstance(child, Tag):
                continue
            line = child.sourceline or 1
            if child.name in _HEADINGS:
                text = child.get_text(" ", strip=True)
                if text:
                    builder.heading(_HEADINGS[child.name], " ".join(text.split()))
            elif child.name == "li":
                builder.item(own_text(child), line=line)
                walk(child)  # nested lists
            elif child.name in _BLOCK_TAGS:
                if child.find(["p", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "table"]):
                    walk(child)
                else:
                    builder.paragraph(child.get_text(" "), line=line)
            elif child.name in _CONTAINERS and not child.find(
                ["p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "div", "table"]
            ):
                builder.paragraph(child.get_text(" "), line=line)
            else:
                walk(child)

    walk(soup.body if isinstance(soup.body, Tag) else soup)
    if not builder.title and page_title:
        builder.title = " ".join(page_title.split())
    if not builder.blocks:
        raise KnowledgeError(path, None, "no text to index in this HTML file")
    return make_document(path, root=root, builder=builder)


# DOCX ------------------------------------------------------------------------------------------

_DOCX_HEADING = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)


def read_docx(path: Path, *, root: Path | None = None) -> Document:
    """DOCX: "Title" and "Heading N" styles are sections, numbered or "List …" paragraphs list
    items; citations point at the paragraph's number."""
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise KnowledgeError(
            path, None, f"not a readable DOCX file (damaged, encrypted or another format: {exc})"
        ) from None
    builder = BlockBuilder()
    title = str(document.core_properties.title or "").strip()
    for number, paragraph in enumerate(document.paragraphs, start=1):
        text = " ".join(paragraph.text.split())
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        heading = _DOCX_HEADING.match(style)
        properties = paragraph._p.pPr
        numbered = properties is not None and properties.numPr is not None
        if style.lower() == "title":
            builder.heading(1, text)
        elif heading:
            builder.heading(int(heading.group(1)) + 1, text)  # Heading 1 sits below the title
        elif numbered or style.lower().startswith("list"):
            builder.item(text, line=number)
        else:
            builder.paragraph(text, line=number)
    if title and not builder.title:
        builder.title = title
    if not builder.blocks:
        raise KnowledgeError(path, None, "no text to index in this DOCX file")
    return make_document(path, root=root, builder=builder)


# PDF -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Box:
    page: int
    text: str
    lines: tuple[str, ...]
    size: float
    bold: bool
    margin: bool  # in the top or bottom tenth of the page, where running headers sit


def _pdf_boxes(path: Path) -> Iterator[_Box]:
    """pdfminer's text boxes in reading order, each cut where the font changes (a heading and
    the paragraph under it can share a box)."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTChar, LTTextContainer, LTTextLine

    for number, page in enumerate(extract_pages(str(path), laparams=LAParams()), start=1):
        height = max(page.height, 1.0)
        for element in page:
            if not isinstance(element, LTTextContainer):
                continue
            margin = element.y0 > height * 0.9 or element.y1 < height * 0.1
            run: list[str] = []
            run_font: tuple[float, bool] | None = None
            for line in element:
                if not isinstance(line, LTTextLine):
                    continue
                # Rotated text (labels inside figures) reads back as letters in reverse: skipped.
                chars = [
                    c for c in line if isinstance(c, LTChar) and c.upright and c.get_text().strip()
                ]
                if not chars:
                    continue
                size = statistics.median(round(c.size, 1) for c in chars)
                bold = sum("bold" in c.fontname.lower() for c in chars) > len(chars) / 2
                if run and (size, bold) != run_font:
                    yield _box(number, run, run_font, margin)
                    run = []
                run.append(line.get_text().rstrip("\n"))
                run_font = (size, bold)
            if run:
                yield _box(number, run, run_font, margin)


def _box(page: int, lines: list[str], font: tuple[float, bool] | None, margin: bool) -> _Box:
    size, bold = font or (0.0, False)
    return _Box(
        page=page,
        text=" ".join(" ".join(lines).split()),
        lines=tuple(lines),
        size=size,
        bold=bold,
        margin=margin,
    )


def _pdf_title(path: Path) -> str:
    """The title in the PDF's own metadata, when it has a real one."""
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfparser import PDFParser
    from pdfminer.pdftypes import resolve1
    from pdfminer.utils import decode_text

    with path.open("rb") as handle:
        info = PDFDocument(PDFParser(handle)).info
    for entry in info:
        value = resolve1(entry.get("Title"))
        if isinstance(value, bytes):
            value = decode_text(value)
        title = " ".join(str(value or "").split())
        if len(title.split()) >= 2 and not title.lower().endswith((".doc", ".docx", ".pdf")):
            return title
    return ""


def read_pdf(path: Path, *, root: Path | None = None) -> Document:
    """PDF: text boxes in reading order; boxes in a larger (or bold) font than the body text,
    or numbered like "1.2 Title", and short are headings, their level by font size or number;
    running headers, footers and page numbers (the same text on many pages) are dropped; a
    paragraph broken by a page or column continues. Every block keeps its page number."""
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfminer.psparser import PSException

    try:
        boxes = list(_pdf_boxes(path))
        title = _pdf_title(path)
    except (PDFEncryptionError, PDFPasswordIncorrect):
        raise KnowledgeError(
            path, None, "the PDF is encrypted; save an unprotected copy to index it"
        ) from None
    except (PDFSyntaxError, PSException, ValueError, TypeError, KeyError) as exc:
        raise KnowledgeError(path, None, f"not a readable PDF ({exc})") from None
    if not boxes:
        raise KnowledgeError(path, None, "no text in this PDF (a scan needs OCR first)")
    pages = max(b.page for b in boxes)
    # Running headers and footers: the same text, digits aside, in the page margins of several
    # pages (a heading such as "About" may repeat too, but inside the page).
    repeats = Counter(re.sub(r"\d+", "#", b.text) for b in boxes if b.margin)
    body_size = Counter(b.size for b in boxes for _ in b.text).most_common(1)[0][0]
    heading_sizes = sorted({b.size for b in boxes if b.size >= body_size * 1.15}, reverse=True)
    builder = BlockBuilder()
    builder.title = title
    pending: list[str] = []  # the lines of a paragraph that may go on in the next box
    pending_page = 0
    in_contents = False

    def flush() -> None:
        nonlocal pending
        if pending:
            _feed_lines(
                builder, pending, line=pending_page, page=pending_page, bullet_pattern=_PDF_BULLET
            )
        pending = []

    for box in boxes:
        key = re.sub(r"\d+", "#", box.text)
        if box.margin and pages >= 3 and repeats[key] >= max(3, pages // 3):
            continue
        if key.strip("# .-–|") == "" or _PAGE_NUMBER.match(key):
            continue  # page numbers and rules
        if _CONTENTS.match(box.text):
            flush()
            in_contents = True  # a table of contents is not prose: skipped to the next heading
            continue
        words = len(box.text.split())
        larger = box.size >= body_size * 1.15
        numbered = _NUMBERED_HEADING.match(box.text)
        if words <= 20 and not _SENTENCE_END.search(box.text) and (larger or box.bold or numbered):
            flush()
            in_contents = False
            if larger:
                level = heading_sizes.index(box.size) + 1
            elif numbered:
                level = len(heading_sizes) + numbered.group(1).count(".") + 1
            else:
                # Bold headings in the body size: numbered ones ("GOVERN 1.2") above the rest.
                level = len(heading_sizes) + (1 if re.search(r"\d", box.text) else 2)
            if not builder.title and box.page <= 2 and larger:
                builder.title = box.text
            else:
                builder.heading(min(max(level, 2), 6), box.text)
            continue
        if in_contents:
            continue
        continues = (
            pending
            and not _SENTENCE_END.search(pending[-1])
            and not _PDF_BULLET.match(box.text)
            # The next box starts in lower case, or this one stopped mid-sentence ("… awareness
            # of" / "AI risks, …"): pdfminer cuts boxes where the line spacing changes.
            and (box.text[:1].islower() or _MID_SENTENCE.search(pending[-1]) is not None)
        )
        if not continues:
            flush()
            pending_page = box.page
        pending.extend(box.lines)
    flush()
    if not builder.blocks:
        raise KnowledgeError(path, None, "no text in this PDF (a scan needs OCR first)")
    return make_document(path, root=root, builder=builder)


READERS = {
    ".txt": read_text,
    ".text": read_text,
    ".html": read_html,
    ".htm": read_html,
    ".docx": read_docx,
    ".pdf": read_pdf,
}
SUFFIXES = frozenset(READERS)


def read_document(path: Path, *, root: Path | None = None) -> Document:
    """Read a non-markdown document with the reader for its suffix."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise KnowledgeError(path, None, f"no reader for {path.suffix or 'files without a suffix'}")
    return reader(path, root=root)
