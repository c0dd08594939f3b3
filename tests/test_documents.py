from __future__ import annotations

from pathlib import Path

import pytest

from index.documents import (
    MAX_PASSAGE_WORDS,
    chunk_document,
    knowledge_checksum,
    load_passages,
    parse_document,
)
from knowledge.errors import KnowledgeError


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_article_is_chunked_into_sections_with_whole_list_items(knowledge_dir: Path) -> None:
    documents, passages = load_passages(knowledge_dir)
    assert [d.title for d in documents] == ["Machine Learning for Leaders: 5 Essentials to Know"]
    assert all(p.doc_title == documents[0].title for p in passages)
    assert all(len(p.text.split()) <= MAX_PASSAGE_WORDS for p in passages)
    early = [
        p for p in passages if p.section.endswith("Early-Stage Companies (Under 25 Employees)")
    ]
    assert early and early[0].section.startswith(
        "2. Organizational Design for Machine Learning Teams"
    )
    items = [p for p in passages if p.section == "5. Common Challenges to Avoid" and p.lead_in]
    assert [p.text.split()[0] for p in items] == [
        "Utilizing",
        "Anticipating",
        "Prioritizing",
        "Underestimating",
    ]
    # A two-sentence list item stays whole.
    assert items[1].text.startswith("Anticipating immediate outcomes. Achieving substantial")


def test_article_debris_is_gone_and_wording_kept(knowledge_dir: Path) -> None:
    text = (knowledge_dir / "articles" / "ml-for-leaders.md").read_text(encoding="utf-8")
    assert "LOGO" not in text and "#machine learning#AI" not in text
    assert "need to understandAn alternative" not in text
    assert "An alternative approach to navigating these recruitment obstacles" in text
    source = Path(__file__).parents[2] / "shared" / "source" / "ml-for-leaders-article.txt"
    if source.exists():  # every body sentence of the source survives word for word
        _, passages = load_passages(knowledge_dir)
        joined = " ".join(p.text for p in passages)
        for line in source.read_text(encoding="utf-8").splitlines():
            line = line.strip().lstrip("•").strip()
            if len(line.split()) > 12 and "understandAn" not in line:
                assert line in joined


def test_long_paragraph_is_cut_between_sentences(tmp_path: Path) -> None:
    sentence = "This sentence has exactly ten words in it, you see."
    doc = write(tmp_path / "long.md", "# Long\n\n" + " ".join([sentence] * 12) + "\n")
    passages = chunk_document(parse_document(doc))
    assert len(passages) > 1
    assert all(p.text.endswith("see.") for p in passages)
    assert " ".join(p.text for p in passages) == " ".join([sentence] * 12)


def test_giant_sentence_is_cut_to_the_word_limit(tmp_path: Path) -> None:
    doc = write(tmp_path / "giant.md", "word " * 300 + "\n")
    passages = chunk_document(parse_document(doc))
    assert [len(p.text.split()) for p in passages] == [120, 120, 60]


def test_title_falls_back_to_heading_then_file_name(tmp_path: Path) -> None:
    assert parse_document(write(tmp_path / "a.md", "# Playbook\n\nText.\n")).title == "Playbook"
    assert parse_document(write(tmp_path / "our-ml_plan.md", "Text.\n")).title == "Our Ml Plan"


def test_code_blocks_are_not_indexed(tmp_path: Path) -> None:
    doc = write(tmp_path / "c.md", "Intro text here.\n\n```\nsecret = 1\n```\n\nAfter.\n")
    texts = [p.text for p in chunk_document(parse_document(doc))]
    assert texts == ["Intro text here.", "After."]


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("---\ntitle: x\n\nbody\n", 1, "never closed"),
        ("---\ntitle: [unclosed\n---\nbody\n", 2, "invalid YAML"),
        ("---\n- a list\n---\nbody\n", 2, "mapping"),
        ("# T\n\ntext\n\n```\ncode\n", 5, "never closed"),
        ("# T\n\nfine\n\n##   \n", 5, "heading has no text"),
        (b"# T\n\nok\n\xff\xfe bad bytes\n", 4, "UTF-8"),
    ],
)
def test_malformed_documents_name_file_and_line(
    tmp_path: Path, content: str | bytes, line: int, message: str
) -> None:
    path = write(tmp_path / "bad.md", content)
    with pytest.raises(KnowledgeError) as info:
        parse_document(path)
    assert info.value.path == path
    assert info.value.line == line
    assert message in str(info.value)
    assert str(info.value).startswith(f"{path}:{line}:")


def test_hints_attach_to_their_passage_and_bad_snippets_name_the_line(knowledge_dir: Path) -> None:
    _, passages = load_passages(knowledge_dir)
    early = next(p for p in passages if p.text.startswith("In these early stages"))
    assert early.hints and all(q.endswith("?") for q in early.hints)
    hints = knowledge_dir / "articles" / "ml-for-leaders.hints.yaml"
    lines = hints.read_text(encoding="utf-8").splitlines()
    first = next(i for i, line in enumerate(lines) if "- passage:" in line)
    lines[first] = '  - passage: "Words that are not in the article at all"'
    hints.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(KnowledgeError) as info:
        load_passages(knowledge_dir)
    assert info.value.path == hints and info.value.line == first + 1


def test_checksum_changes_with_documents_and_hints(knowledge_dir: Path) -> None:
    before = knowledge_checksum(knowledge_dir)
    write(knowledge_dir / "playbook.md", "# Our playbook\n\nShip models behind flags.\n")
    after_doc = knowledge_checksum(knowledge_dir)
    write(
        knowledge_dir / "playbook.hints.yaml",
        'hints:\n  - passage: "Ship models"\n    questions: ["How?"]\n',
    )
    assert len({before, after_doc, knowledge_checksum(knowledge_dir)}) == 3


def test_readme_and_eval_folder_are_not_documents(knowledge_dir: Path) -> None:
    write(knowledge_dir / "README.md", "# How to add documents\n\nPut markdown here.\n")
    write(knowledge_dir / "eval" / "notes.md", "# Eval notes\n\nNot knowledge.\n")
    documents, _ = load_passages(knowledge_dir)
    assert [d.id for d in documents] == ["ml-for-leaders"]


def test_empty_folder_and_duplicate_ids_are_errors(tmp_path: Path, knowledge_dir: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(KnowledgeError, match="no documents found"):
        load_passages(tmp_path / "empty")
    write(knowledge_dir / "copy.md", "---\nid: ml-for-leaders\n---\n\nText.\n")
    with pytest.raises(KnowledgeError, match="also used by"):
        load_passages(knowledge_dir)
