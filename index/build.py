"""Build the index from the knowledge folder: parse, chunk, embed, store."""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple

import bm25s
import numpy as np
from tqdm import tqdm

from index.documents import CHUNKER_VERSION, Passage, knowledge_checksum, load_passages
from index.embedder import Embedder, Span, encode_with_spans
from index.store import (
    FORMAT_VERSION,
    IndexStoreError,
    LoadedIndex,
    Manifest,
    load_index,
    publish_index,
)
from index.text import tokenize
from index.vectors import IndexKind, VectorIndex
from knowledge.errors import KnowledgeError

__all__ = ["BuildSummary", "build_bm25", "build_index", "embed_passages"]


@dataclass(frozen=True)
class BuildSummary:
    documents: int
    passages: int
    sentences: int
    seconds: float
    index_kind: IndexKind
    path: Path
    # Seconds per phase, in order: reading, keyword index, (reusing,) embedding, vector index,
    # writing.
    phases: dict[str, float] = field(default_factory=dict)
    # Distinct passage texts run through the model; the others' vectors came from the last build.
    encoded: int = 0
    distinct: int = 0


# Key kinds: where a key's vector comes from.
_PASSAGE, _SENTENCE, _HINT = 0, 1, 2
# Keys are gathered and added to the vector index this many at a time, so no second full copy
# of the key vectors is ever held beside the index's own.
_ADD_CHUNK = 16_384


@contextmanager
def _phase(phases: dict[str, float], name: str) -> Iterator[None]:
    """Record how long the block takes as ``phases[name]``, in seconds."""
    started = time.perf_counter()
    try:
        yield
    finally:
        phases[name] = time.perf_counter() - started


class EmbeddedKeys(NamedTuple):
    vectors: VectorIndex
    key_offsets: np.ndarray
    sentence_vectors: np.ndarray
    sentence_offsets: np.ndarray
    encoded: int  # distinct passage texts run through the model
    distinct: int  # distinct passage texts in all


@dataclass(frozen=True)
class KnownVectors:
    """Vectors an earlier build already computed, by passage text: reused instead of encoding
    again, so a rebuild encodes only new or changed passages. A passage text's vector and its
    sentence vectors come from one forward pass, so they are reused together, and only when
    the sentences are split the same way."""

    rows: dict[str, tuple[int, tuple[str, ...]]]  # text -> (row, its sentences)
    text_vectors: np.ndarray
    sentence_vectors: np.ndarray
    sentence_starts: np.ndarray
    hints: dict[str, np.ndarray]  # hint question -> its vector

    @classmethod
    def of_index(cls, index: LoadedIndex) -> KnownVectors:
        passages = index.passages
        rows: dict[str, tuple[int, tuple[str, ...]]] = {}
        hint_keys: dict[str, int] = {}
        for row, passage in enumerate(passages):
            rows.setdefault(passage.text, (row, passage.sentences))
            # Keys run: the passage's text, its sentences (when several), its hint questions.
            first_hint = int(index.key_offsets[row]) + 1
            first_hint += len(passage.sentences) if len(passage.sentences) > 1 else 0
            for number, hint in enumerate(passage.hints):
                hint_keys.setdefault(hint, first_hint + number)
        # A passage's first key is its own text's vector.
        text_vectors = index.vectors.reconstruct(index.key_offsets[:-1].astype(np.int64))
        hint_vectors = index.vectors.reconstruct(np.asarray(list(hint_keys.values()), np.int64))
        return cls(
            rows=rows,
            text_vectors=text_vectors,
            sentence_vectors=index.sentence_vectors,
            sentence_starts=index.sentence_offsets,
            hints=dict(zip(hint_keys, hint_vectors, strict=True)),
        )

    def lookup(self, text: str, sentences: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray] | None:
        found = self.rows.get(text)
        if found is None or found[1] != sentences:
            return None
        row = found[0]
        start, end = self.sentence_starts[row], self.sentence_starts[row + 1]
        return self.text_vectors[row], self.sentence_vectors[start:end]


def _encode_spans_with_progress(
    embedder: Embedder,
    texts: Sequence[str],
    spans: Sequence[Sequence[Span]],
    *,
    progress: bool,
    batch_size: int = 64,
    known: Sequence[tuple[np.ndarray, np.ndarray] | None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Text vectors, and the vectors of every span of every text (in order), one progress bar.

    Texts go shortest first (little padding per batch); results return to the given order.
    ``known[i]``, when set, holds text ``i``'s vectors from an earlier build: it is not encoded.
    """
    span_starts = np.cumsum([0, *(len(s) for s in spans)])
    text_vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    span_vectors = np.zeros((int(span_starts[-1]), embedder.dim), dtype=np.float32)
    if known is not None:
        for i, reuse in enumerate(known):
            if reuse is not None:
                text_vectors[i] = reuse[0]
                span_vectors[span_starts[i] : span_starts[i + 1]] = reuse[1]
    order = sorted(
        (i for i in range(len(texts)) if known is None or known[i] is None),
        key=lambda i: len(texts[i]),
    )
    with tqdm(
        total=len(order),
        desc="Embedding",
        unit="passage",
        disable=not progress,
        file=sys.stderr,
        leave=False,
    ) as bar:
        step = batch_size * 16
        for start in range(0, len(order), step):
            chunk = order[start : start + step]
            vectors, pooled = encode_with_spans(
                embedder,
                [texts[i] for i in chunk],
                [spans[i] for i in chunk],
                batch_size=batch_size,
            )
            text_vectors[chunk] = vectors
            for i, rows in zip(chunk, pooled, strict=True):
                span_vectors[span_starts[i] : span_starts[i + 1]] = rows
            bar.update(len(chunk))
    return text_vectors, span_vectors


def _sentence_spans(passage: Passage) -> list[Span]:
    """Character ranges of a passage's sentences (its text is its sentences joined by spaces)."""
    spans, cursor = [], 0
    for sentence in passage.sentences:
        start = passage.text.find(sentence, cursor)
        if start < 0:  # not expected from the chunker; fall back to the whole text
            start, end = 0, len(passage.text)
        else:
            end = start + len(sentence)
            cursor = end
        spans.append((start, end))
    return spans


def embed_passages(
    embedder: Embedder,
    passages: Sequence[Passage],
    *,
    kind: IndexKind | Literal["auto"] = "auto",
    progress: bool = False,
    phases: dict[str, float] | None = None,
    known: KnownVectors | None = None,
) -> EmbeddedKeys:
    """The vector index of every passage's keys, its key offsets, sentence vectors and offsets,
    and how many distinct passage texts were encoded (the rest reused from ``known``).

    A passage is found through several keys: its own text, each of its sentences (when it has
    more than one) and the annotated questions it answers; it scores the best of its keys.
    Sentence vectors come from the passage's own forward pass (``encode_with_spans``), so the
    build encodes each distinct passage text once, plus the hint questions; they double as the
    highlighters of an answer.
    """
    phases = {} if phases is None else phases
    with _phase(phases, "embedding"):
        # Each distinct passage text once, with the first passage that has it.
        first: dict[str, Passage] = {}
        for passage in passages:
            first.setdefault(passage.text, passage)
        unique = {text: row for row, text in enumerate(first)}
        reuse = [known.lookup(p.text, p.sentences) for p in first.values()] if known else None
        passage_vectors, text_sentences = _encode_spans_with_progress(
            embedder,
            list(first),
            [_sentence_spans(p) for p in first.values()],
            progress=progress,
            known=reuse,
        )
        encoded = len(first) if reuse is None else sum(r is None for r in reuse)
        del reuse
        text_sentence_starts = np.cumsum([0, *(len(p.sentences) for p in first.values())])
        hints: dict[str, int] = {}
        for passage in passages:
            for hint in passage.hints:
                hints.setdefault(hint, len(hints))
        hint_vectors = np.zeros((len(hints), embedder.dim), np.float32)
        new_hints = [h for h in hints if known is None or h not in known.hints]
        if known is not None:
            for hint, row in hints.items():
                if hint in known.hints:
                    hint_vectors[row] = known.hints[hint]
        if new_hints:
            hint_vectors[[hints[h] for h in new_hints]] = embedder.encode(new_hints)

        # Sentence rows per passage; with no repeated passage text this is the text-level table.
        sentence_rows = np.concatenate(
            [np.zeros(0, np.int64)]
            + [
                np.arange(
                    text_sentence_starts[unique[p.text]], text_sentence_starts[unique[p.text] + 1]
                )
                for p in passages
            ]
        ).astype(np.int64)
        sentence_offsets = np.cumsum([0, *(len(p.sentences) for p in passages)]).astype(np.int64)
        if np.array_equal(sentence_rows, np.arange(len(text_sentences))):
            sentence_vectors = text_sentences
        else:
            sentence_vectors = text_sentences[sentence_rows]
        del text_sentences

    with _phase(phases, "vector index"):
        key_kind: list[int] = []
        key_row: list[int] = []
        key_offsets = [0]
        for number, passage in enumerate(passages):
            key_kind.append(_PASSAGE)
            key_row.append(unique[passage.text])
            if len(passage.sentences) > 1:
                start, end = int(sentence_offsets[number]), int(sentence_offsets[number + 1])
                key_kind += [_SENTENCE] * (end - start)
                key_row += range(start, end)
            key_kind += [_HINT] * len(passage.hints)
            key_row += [hints[h] for h in passage.hints]
            key_offsets.append(len(key_kind))
        kinds = np.asarray(key_kind, dtype=np.int8)
        rows = np.asarray(key_row, dtype=np.int64)
        index = VectorIndex.create(embedder.dim, expected=len(kinds), kind=kind)
        sources = {_PASSAGE: passage_vectors, _SENTENCE: sentence_vectors, _HINT: hint_vectors}
        for start in range(0, len(kinds), _ADD_CHUNK):
            chunk_kinds = kinds[start : start + _ADD_CHUNK]
            chunk_rows = rows[start : start + _ADD_CHUNK]
            chunk = np.empty((len(chunk_kinds), embedder.dim), dtype=np.float32)
            for source, table in sources.items():
                where = chunk_kinds == source
                chunk[where] = table[chunk_rows[where]]
            index.add(chunk)
    return EmbeddedKeys(
        vectors=index,
        key_offsets=np.asarray(key_offsets, dtype=np.int64),
        sentence_vectors=sentence_vectors,
        sentence_offsets=sentence_offsets,
        encoded=encoded,
        distinct=len(first),
    )


def build_bm25(passages: Sequence[Passage]) -> bm25s.BM25:
    bm25 = bm25s.BM25()
    # An empty token keeps passages without any indexable word valid for bm25s.
    bm25.index([tokenize(p.keyword_text) or [""] for p in passages], show_progress=False)
    return bm25


def _known_vectors(index_dir: Path, embedder: Embedder) -> KnownVectors | None:
    """The live index's vectors, when it was built by this model and can be read."""
    try:
        return KnownVectors.of_index(load_index(index_dir, model=embedder.name, dim=embedder.dim))
    except IndexStoreError:
        return None  # none yet, another model or chunker, or damaged: encode everything


def build_index(
    *,
    knowledge_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    kind: IndexKind | None = None,
    progress: bool = False,
    passages: list[Passage] | None = None,
    on_error: Callable[[KnowledgeError], None] | None = None,
    incremental: bool = True,
) -> BuildSummary:
    """Build and publish a new index. Knowledge errors surface before anything is written.

    ``passages`` may be given directly (benchmarks feed synthetic collections this way); the
    knowledge folder still provides the checksum. With ``on_error``, a document that cannot be
    read is reported to it and left out instead of stopping the build. ``incremental``: reuse
    the live index's vectors for passages it already holds (same model), so only new or
    changed passages are encoded.
    """
    started = time.perf_counter()
    phases: dict[str, float] = {}
    with _phase(phases, "reading"):
        if passages is None:
            documents, passages = load_passages(knowledge_dir, on_error=on_error)
            document_count = len(documents)
        else:
            document_count = len({p.doc_id for p in passages})
        checksum = knowledge_checksum(knowledge_dir)
    # The keyword index first: its token lists peak while no vectors are held yet.
    with _phase(phases, "keyword index"):
        bm25 = build_bm25(passages)
    known = None
    if incremental:
        with _phase(phases, "reusing"):
            known = _known_vectors(index_dir, embedder)
    vectors, key_offsets, sentence_vectors, sentence_offsets, encoded, distinct = embed_passages(
        embedder, passages, kind=kind or "auto", progress=progress, phases=phases, known=known
    )
    del known
    seconds = time.perf_counter() - started
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        model=embedder.name,
        dim=embedder.dim,
        passages=len(passages),
        sentences=len(sentence_vectors),
        keys=len(vectors),
        documents=document_count,
        knowledge_checksum=checksum,
        chunker_version=CHUNKER_VERSION,
        index_kind=vectors.kind,
        built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        build_seconds=round(seconds, 3),
    )
    with _phase(phases, "writing"):
        path = publish_index(
            index_dir,
            manifest=manifest,
            passages=passages,
            vectors=vectors,
            key_offsets=key_offsets,
            sentence_vectors=sentence_vectors,
            sentence_offsets=sentence_offsets,
            bm25=bm25,
        )
    seconds = time.perf_counter() - started
    return BuildSummary(
        documents=document_count,
        passages=len(passages),
        sentences=len(sentence_vectors),
        seconds=seconds,
        index_kind=vectors.kind,
        path=path,
        phases={name: round(value, 2) for name, value in phases.items()},
        encoded=encoded,
        distinct=distinct,
    )
