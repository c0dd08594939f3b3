"""Documents in the formats people have: plain text, HTML, DOCX and PDF, and their bad files."""

from __future__ import annotations

import io
import re
import zlib
from pathlib import Path

import pytest

from bot.cli import main
from index.documents import DOCUMENT_SUFFIXES, ITEM, LEAD_IN, chunk_document, load_passages
from index.readers import SUFFIXES, read_docx, read_html, read_pdf, read_text
from knowledge.errors import KnowledgeError

DEV_DOCS = next(
    (
        p
        for p in (Path(__file__).resolve().parents[2] / "shared" / "dev-docs",)
        + (Path("/work/shared/dev-docs"),)
        if p.is_dir()
    ),
    None,
)

HTML = """<!doctype html>
<html><head><title>Incident Handbook</title><style>p {color: red}</style></head>
<body>
<nav><a href="/">Home</a> <a href="/x">Other page</a></nav>
<h1>Incident Handbook</h1>
<h2>Paging</h2>
<p>Page the primary first. <b>Never</b> page the whole team at once.</p>
<div class="note">Pages after midnight are reviewed the next morning.</div>
<h3>When to escalate</h3>
<p>Escalate when any of these holds:</p>
<ul>
  <li>Customers are affected.</li>
  <li>The cause is unknown after <em>fifteen</em> minutes.</li>
</ul>
<script>console.log("not prose")</script>
</body></html>
"""


def _blocks(document):  # type: ignore[no-untyped-def]
    return [(" > ".join(b.section), b.is_list_item, b.text) for b in document.blocks]


def test_reader_suffixes_cover_every_non_markdown_format() -> None:
    assert DOCUMENT_SUFFIXES - {".md", ".markdown"} == SUFFIXES


def test_html_headings_are_sections_and_lists_keep_their_lead_in(tmp_path: Path) -> None:
    path = tmp_path / "handbook.html"
    path.write_text(HTML, encoding="utf-8")
    document = read_html(path, root=tmp_path)
    assert document.title == "Incident Handbook" and document.id == "handbook"
    assert _blocks(document) == [
        ("Paging", False, "Page the primary first. Never page the whole team at once."),
        ("Paging", False, "Pages after midnight are reviewed the next morning."),
        ("Paging > When to escalate", False, "Escalate when any of these holds:"),
        ("Paging > When to escalate", True, "Customers are affected."),
        ("Paging > When to escalate", True, "The cause is unknown after fifteen minutes."),
    ]
    assert document.blocks[0].line == 7  # the source line, for citations and errors
    passages = chunk_document(document)
    assert [p.kind for p in passages[2:]] == [LEAD_IN, ITEM, ITEM]


def test_html_without_text_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "empty.html"
    path.write_text("<html><body><script>x()</script></body></html>", encoding="utf-8")
    with pytest.raises(KnowledgeError, match="empty.html.*no text"):
        read_html(path)


def _docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "Hiring Playbook"
    document.add_heading("Hiring Playbook", level=0)
    document.add_heading("Interviews", level=1)
    document.add_paragraph("Every loop has four interviews.")
    document.add_heading("Scorecards", level=2)
    document.add_paragraph("Each scorecard rates these areas:")
    document.add_paragraph("Problem solving.", style="List Bullet")
    document.add_paragraph("Communication.", style="List Bullet")
    document.add_paragraph("Hire only with two strong yes votes.")
    document.save(str(path))


def test_docx_styles_map_to_sections_and_list_items(tmp_path: Path) -> None:
    path = tmp_path / "hiring.docx"
    _docx(path)
    document = read_docx(path, root=tmp_path)
    assert document.title == "Hiring Playbook"
    assert _blocks(document) == [
        ("Interviews", False, "Every loop has four interviews."),
        ("Interviews > Scorecards", False, "Each scorecard rates these areas:"),
        ("Interviews > Scorecards", True, "Problem solving."),
        ("Interviews > Scorecards", True, "Communication."),
        ("Interviews > Scorecards", False, "Hire only with two strong yes votes."),
    ]
    kinds = [p.kind for p in chunk_document(document)]
    assert kinds == ["paragraph", LEAD_IN, ITEM, ITEM, "paragraph"]


@pytest.mark.parametrize("content", [b"not a zip at all", b"PK\x03\x04broken zip"])
def test_a_damaged_docx_is_refused_by_name(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.docx"
    path.write_bytes(content)
    with pytest.raises(KnowledgeError, match="broken.docx.*not a readable DOCX"):
        read_docx(path)


def test_plain_text_headings_paragraphs_and_bullets(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text(
        "On-call notes\n\nHandover\n\nA handover covers:\n- open incidents\n- silenced alerts\n"
        "\nKeep it under ten\nminutes.\n",
        encoding="utf-8",
    )
    document = read_text(path)
    assert document.title == "On-call notes"
    assert _blocks(document) == [
        ("Handover", False, "A handover covers:"),
        ("Handover", True, "open incidents"),
        ("Handover", True, "silenced alerts"),
        ("Handover", False, "Keep it under ten minutes."),
    ]
    assert document.blocks[3].line == 9


def _pdf(pages: list[list[tuple[int, str]]], *, rotated: str = "") -> bytes:
    """A small real PDF: each page a list of (font size, line of text), top to bottom (a
    size of 0 leaves a gap of that line's height instead), and ``rotated`` text written
    upwards on the first page, as labels inside a figure are."""
    objects: list[bytes] = []
    page_ids = []
    font_id = 3 + 2 * len(pages)
    for number, lines in enumerate(pages):
        y, ops = 700, []
        for size, text in lines:
            y -= size + 10
            if not size:
                y -= int(text)
                continue
            safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"BT /F1 {size} Tf 72 {y} Td ({safe}) Tj ET")
        if rotated and number == 0:
            ops.append(f"BT /F1 11 Tf 0 1 -1 0 500 300 Tm ({rotated}) Tj ET")
        stream = zlib.compress("\n".join(ops).encode("cp1252"))
        content_id = 4 + 2 * number
        page_ids.append(3 + 2 * number)
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objects.append(
            f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode()
            + stream
            + b"\nendstream"
        )
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    body = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode(),
        *objects,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(body, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(body) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(body) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


PDF_PAGES = [
    [
        (20, "Release Guide"),
        (16, "Before a release"),
        (11, "Every release needs a named owner who can roll it back."),
        (11, "The owner checks these points:"),
    ],
    [
        (11, "• The change log is written."),
        (11, "• The rollback was tried once."),
        (16, "After a release"),
        (11, "Watch the error rate for one hour after every release."),
    ],
]


def test_pdf_font_sizes_give_sections_and_every_block_its_page(tmp_path: Path) -> None:
    path = tmp_path / "release.pdf"
    path.write_bytes(_pdf(PDF_PAGES))
    document = read_pdf(path, root=tmp_path)
    assert document.title == "Release Guide"
    assert [
        (s, item, text, b.page)
        for (s, item, text), b in zip(_blocks(document), document.blocks, strict=True)
    ] == [
        ("Before a release", False, "Every release needs a named owner who can roll it back.", 1),
        ("Before a release", False, "The owner checks these points:", 1),
        ("Before a release", True, "The change log is written.", 2),
        ("Before a release", True, "The rollback was tried once.", 2),
        ("After a release", False, "Watch the error rate for one hour after every release.", 2),
    ]
    passages = chunk_document(document)
    assert [p.kind for p in passages[1:4]] == [LEAD_IN, ITEM, ITEM]
    assert {p.page for p in passages} == {1, 2}


def test_a_pdf_paragraph_cut_into_two_boxes_is_one_and_rotated_labels_are_dropped(
    tmp_path: Path,
) -> None:
    path = tmp_path / "oversight.pdf"
    pages = [
        [
            (20, "Oversight Guide"),
            (16, "Leadership"),
            (11, "Senior leaders of teams that run models should keep track of"),
            (0, "14"),  # wider line spacing: pdfminer starts a new text box here
            (11, "AI risks, and answer for managing those risks."),
            (11, "Teams report every incident within a day."),
        ]
    ]
    path.write_bytes(_pdf(pages, rotated="Model dimension"))
    texts = [text for _, _, text in _blocks(read_pdf(path, root=tmp_path))]
    assert texts == [
        "Senior leaders of teams that run models should keep track of AI risks, and answer "
        "for managing those risks.",
        "Teams report every incident within a day.",
    ]


@pytest.mark.skipif(DEV_DOCS is None, reason="../shared/dev-docs is not on this machine")
def test_the_playbook_pdf_keeps_paragraphs_whole_and_figures_out() -> None:
    assert DEV_DOCS is not None
    playbook = read_pdf(DEV_DOCS / "nist-ai-rmf-playbook-govern" / "original.pdf")
    assert any(
        "should maintain awareness of AI risks, affirm the organizational appetite" in b.text
        for b in playbook.blocks
    )
    framework = read_pdf(DEV_DOCS / "nist-ai-rmf-1.0-part1" / "original.pdf")
    # The lifecycle figure's rotated labels would read back as "e r u g i F".
    assert not any(re.search(r"(?:\b\w ){6,}", b.text) for b in framework.blocks)


def test_encrypted_and_damaged_pdfs_are_refused_by_name(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    plain = tmp_path / "plain.pdf"
    plain.write_bytes(_pdf(PDF_PAGES))
    writer = PdfWriter()
    for page in PdfReader(str(plain)).pages:
        writer.add_page(page)
    writer.encrypt(user_password="secret", owner_password="owner")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as handle:
        writer.write(handle)
    with pytest.raises(KnowledgeError, match="locked.pdf.*encrypted"):
        read_pdf(locked)
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage")
    with pytest.raises(KnowledgeError, match="damaged.pdf"):
        read_pdf(damaged)


@pytest.mark.skipif(DEV_DOCS is None, reason="../shared/dev-docs is not on this machine")
def test_the_nist_pdf_keeps_its_sections_lists_and_pages() -> None:
    assert DEV_DOCS is not None
    document = read_pdf(DEV_DOCS / "nist-ai-rmf-1.0-part1" / "original.pdf")
    assert document.title == "Artificial Intelligence Risk Management Framework (AI RMF 1.0)"
    sections = {" > ".join(b.section) for b in document.blocks}
    assert any(s.endswith("3.2 Safe") for s in sections)
    assert any(s.endswith("1.2.2 Risk Tolerance") for s in sections)
    assert all(b.page for b in document.blocks)
    passages = chunk_document(document)
    lead = next(
        p for p in passages if p.text.endswith("Framework users are expected to benefit from:")
    )
    items = [p for p in passages if p.unit == lead.unit and p.kind == ITEM]
    assert lead.kind == LEAD_IN and len(items) >= 8
    # Running headers, footers and page numbers are not passages.
    assert not any(p.text.startswith(("Page ", "NIST AI 100-1")) for p in passages)


def _knowledge_with_formats(root: Path) -> Path:
    knowledge = root / "knowledge"
    knowledge.mkdir()
    (knowledge / "handbook.html").write_text(HTML, encoding="utf-8")
    _docx(knowledge / "hiring.docx")
    (knowledge / "release.pdf").write_bytes(_pdf(PDF_PAGES))
    return knowledge


def test_a_bad_file_stops_the_build_or_is_left_out_when_asked(tmp_path: Path) -> None:
    knowledge = _knowledge_with_formats(tmp_path)
    (knowledge / "broken.docx").write_bytes(b"not a docx")
    with pytest.raises(KnowledgeError, match="broken.docx"):
        load_passages(knowledge)
    errors: list[KnowledgeError] = []
    documents, passages = load_passages(knowledge, on_error=errors.append)
    assert [str(e.path.name) for e in errors] == ["broken.docx"]
    assert sorted(d.id for d in documents) == ["handbook", "hiring", "release"]
    assert {p.doc_id for p in passages} == {"handbook", "hiring", "release"}


@pytest.mark.slow
def test_mlbot_answers_from_pdf_html_and_docx_and_cites_the_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    knowledge = _knowledge_with_formats(tmp_path)
    (knowledge / "broken.pdf").write_bytes(b"%PDF-1.4 nothing here")
    monkeypatch.setenv("KNOWLEDGE_DIR", str(knowledge))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    out = io.StringIO()
    # A bad file stops the build by default, naming it; nothing is published.
    assert main(["index", "build"], out=out) == 1
    assert "broken.pdf" in capsys.readouterr().err
    assert not (tmp_path / "data" / "index").exists()
    assert main(["index", "build", "--skip-bad"], out=out) == 0
    assert "1 document(s) left out" in out.getvalue()
    assert "skipped:" in capsys.readouterr().err
    out = io.StringIO()
    assert main(["ask", "--json", "What must the owner check before a release?"], out=out) == 0
    answer = json.loads(out.getvalue())["answer"]
    assert answer["lead"]["path"] == "release.pdf" and answer["lead"]["page"] == 1
    assert answer["lead"]["items"] == ["The change log is written.", "The rollback was tried once."]
    out = io.StringIO()
    assert main(["ask", "What must the owner check before a release?"], out=out) == 0
    assert "Before a release · p. 1" in out.getvalue()
