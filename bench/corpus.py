"""A reproducible synthetic knowledge base of N passages, written as markdown documents.

Sentences of the shipped article are recombined into paragraphs, a few of their words are
swapped for other words of the article, and each sentence is set in a company or team ("At
Northwind Health, ...", "In the fraud team, ..."), so nearly every sentence is unique text and
the collection reads like a set of internal engineering handbooks. Every block (paragraph, list
lead-in, list item) stays under the chunker's whole-paragraph limit, so one block is one
passage; the count is checked with the real chunker after generation.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.common import DATA_DIR, fingerprint, log

__all__ = ["Corpus", "ensure_corpus"]

# Bump when the generator's output changes, so cached corpora and indexes are regenerated.
GENERATOR_VERSION = 1
PASSAGES_PER_DOCUMENT = 50
DOCUMENTS_PER_FOLDER = 100
MAX_BLOCK_WORDS = 68  # the chunker keeps paragraphs up to 70 words whole

_PREFIXES = [
    "North", "Blue", "Iron", "Bright", "Silver", "Red", "Clear", "Green", "Swift", "Deep",
    "Open", "High", "True", "Star", "Cedar", "Granite", "Harbor", "Maple", "Summit", "Violet",
]  # fmt: skip
_SUFFIXES = [
    "wind Health", "field Labs", "stone Pay", "path Logistics", "water Robotics",
    "light Media", "gate Insurance", "ridge Analytics", "bay Retail", "point Security",
]  # fmt: skip
TEAMS = [
    "payments", "search", "fraud", "ads ranking", "recommendations", "trust and safety",
    "growth", "support automation", "forecasting", "pricing", "data platform", "risk",
    "marketplace", "identity", "logistics", "content moderation", "personalization",
    "customer success", "billing", "mobile", "infrastructure", "onboarding", "analytics",
    "notifications", "checkout", "maps", "voice", "computer vision", "ML platform", "security",
]  # fmt: skip
COMPANIES = [p + s for p in _PREFIXES for s in _SUFFIXES]
_TOPICS = [
    "Hiring", "Team structure", "Pipelines", "Model evaluation", "Monitoring", "Roadmap",
    "Budget", "Data quality", "Launch review", "On-call", "Experimentation", "Postmortems",
]  # fmt: skip
_SENTENCE_END = re.compile(r"[.!?][”\"’')\]]?$")
_SWAPPABLE = re.compile(r"^([a-z]{6,})([,;:.]?)$")


@dataclass(frozen=True)
class Corpus:
    root: Path
    passages: int
    documents: int
    seed: int
    key: str


def _source_sentences() -> tuple[list[str], list[str]]:
    """Sentences of the shipped knowledge base and its vocabulary of longer lower-case words."""
    from index.documents import load_passages
    from knowledge import DEFAULT_KNOWLEDGE_DIR

    _, passages = load_passages(DEFAULT_KNOWLEDGE_DIR)
    sentences = sorted(
        {
            s
            for p in passages
            for s in p.sentences
            if len(s.split()) >= 6 and _SENTENCE_END.search(s) and len(s.split()) <= 50
        }
    )
    vocab = sorted({m.group(1) for s in sentences for w in s.split() if (m := _SWAPPABLE.match(w))})
    return sentences, vocab


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    return text[0].lower() + text[1:] if first[1:].islower() else text


class _Writer:
    def __init__(self, rng: random.Random, sentences: list[str], vocab: list[str]) -> None:
        self.rng = rng
        self.sentences = sentences
        self.vocab = vocab

    def sentence(self) -> str:
        rng = self.rng
        words = []
        for word in rng.choice(self.sentences).split():
            match = _SWAPPABLE.match(word)
            if match and rng.random() < 0.15:
                word = rng.choice(self.vocab) + match.group(2)
            words.append(word)
        text = " ".join(words)
        company, team = rng.choice(COMPANIES), rng.choice(TEAMS)
        roll = rng.random()
        if roll < 0.4:
            return f"At {company}, {_lower_first(text)}"
        if roll < 0.75:
            return f"In the {team} team, {_lower_first(text)}"
        if text.endswith("."):
            return f"{text[:-1]}, says the {team} lead at {company}."
        return f"{text} ({company}, {team} team)"

    def paragraph(self, max_sentences: int = 4) -> str:
        count = self.rng.choices([1, 2, 3, 4][:max_sentences], [2, 4, 3, 1][:max_sentences])[0]
        while True:
            parts = [self.sentence() for _ in range(count)]
            while len(parts) > 1 and len(" ".join(parts).split()) > MAX_BLOCK_WORDS:
                parts.pop()
            if len(" ".join(parts).split()) <= MAX_BLOCK_WORDS:
                return " ".join(parts)

    def document(self, number: int, passages: int) -> str:
        rng = self.rng
        company, team = rng.choice(COMPANIES), rng.choice(TEAMS)
        title = f"{company}: {team} handbook, part {number % 7 + 1}"
        lines = [
            "---",
            f"title: {json.dumps(title)}",
            f"id: synthetic-{number:06d}",
            "kind: synthetic",
            "---",
            "",
            f"# {title}",
            "",
        ]
        written = 0
        until_heading = 0
        while written < passages:
            if until_heading <= 0:
                lines += [f"## {rng.choice(_TOPICS)} in the {rng.choice(TEAMS)} team", ""]
                until_heading = rng.randint(3, 8)
            if rng.random() < 0.12 and passages - written >= 3:
                items = min(rng.randint(2, 4), passages - written - 1)
                lines += [f"What the {rng.choice(TEAMS)} team at {company} agreed on:", ""]
                lines += [f"- {self.paragraph(max_sentences=2)}" for _ in range(items)]
                written += 1 + items
            else:
                lines.append(self.paragraph())
                written += 1
            lines.append("")
            until_heading -= 1
        return "\n".join(lines)


def _generate(root: Path, passages: int, seed: int) -> int:
    sentences, vocab = _source_sentences()
    writer = _Writer(random.Random(seed), sentences, vocab)
    documents = 0
    remaining = passages
    while remaining > 0:
        size = min(PASSAGES_PER_DOCUMENT, remaining)
        folder = root / "docs" / f"{documents // DOCUMENTS_PER_FOLDER:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        text = writer.document(documents, size)
        (folder / f"doc-{documents:06d}.md").write_text(text + "\n", encoding="utf-8")
        documents += 1
        remaining -= size
    return documents


def corpus_key(passages: int, seed: int) -> str:
    from knowledge import DEFAULT_KNOWLEDGE_DIR

    article = sorted((DEFAULT_KNOWLEDGE_DIR / "articles").glob("*.md"))
    return fingerprint(GENERATOR_VERSION, passages, seed, Path(__file__), *article)


def ensure_corpus(passages: int, *, seed: int = 7) -> Corpus:
    """The corpus for ``passages`` and ``seed``: generated once, then reused from bench/.data."""
    from index.documents import load_passages

    root = DATA_DIR / f"corpus-{passages}-s{seed}"
    meta_path = root / "corpus.json"
    key = corpus_key(passages, seed)
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("key") == key:
            return Corpus(root, meta["passages"], meta["documents"], seed, key)
    log(f"generating a synthetic corpus of {passages:,} passages (seed {seed}) in {root}")
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=DATA_DIR, prefix=f".corpus-{passages}-"))
    try:
        documents = _generate(staging, passages, seed)
        _, chunked = load_passages(staging)
        if len(chunked) != passages:
            raise RuntimeError(
                f"the synthetic corpus chunks into {len(chunked)} passages, not {passages}: "
                "the generator and the chunker disagree (bump GENERATOR_VERSION after a fix)"
            )
        (staging / "corpus.json").write_text(
            json.dumps({"key": key, "passages": passages, "documents": documents, "seed": seed})
        )
        shutil.rmtree(root, ignore_errors=True)
        staging.rename(root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Corpus(root, passages, documents, seed, key)
