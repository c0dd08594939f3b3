"""Build the index from the knowledge folder: parse, chunk, embed, store."""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np
from tqdm import tqdm

from index.documents import CHUNKER_VERSION, Passage, knowledge_checksum, load_passages
from index.embedder import Embedder
from index.store import FORMAT_VERSION, Manifest, publish_index
from index.text import tokenize
from index.vectors import IndexKind, VectorIndex

__all__ = ["BuildSummary", "build_bm25", "build_index", "encode_with_progress"]


@dataclass(frozen=True)
class BuildSummary:
    documents: int
    passages: int
    sentences: int
    seconds: float
    index_kind: IndexKind
    path: Path


def encode_with_progress(
    embedder: Embedder,
    texts: Sequence[str],
    *,
    desc: str,
    progress: bool,
    batch_size: int = 64,
) -> np.ndarray:
    """Encode in batches, showing one progress bar (on stderr) for the whole job.

    Texts are encoded shortest first, so each batch pads to a similar length (less wasted
    work than encoding in corpus order), then put back in their original order.
    """
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    with tqdm(
        total=len(texts), desc=desc, unit="text", disable=not progress, file=sys.stderr, leave=False
    ) as bar:
        step = batch_size * 16
        for start in range(0, len(order), step):
            chunk = order[start : start + step]
            out[chunk] = embedder.encode([texts[i] for i in chunk], batch_size=batch_size)
            bar.update(len(chunk))
    return out


def build_bm25(passages: Sequence[Passage]) -> bm25s.BM25:
    bm25 = bm25s.BM25()
    # An empty token keeps passages without any indexable word valid for bm25s.
    bm25.index([tokenize(p.keyword_text) or [""] for p in passages], show_progress=False)
    return bm25


def build_index(
    *,
    knowledge_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    kind: IndexKind | None = None,
    progress: bool = False,
    passages: list[Passage] | None = None,
) -> BuildSummary:
    """Build and publish a new index. Knowledge errors surface before anything is written.

    ``passages`` may be given directly (benchmarks feed synthetic collections this way); the
    knowledge folder still provides the checksum.
    """
    started = time.perf_counter()
    if passages is None:
        documents, passages = load_passages(knowledge_dir)
        document_count = len(documents)
    else:
        document_count = len({p.doc_id for p in passages})
    checksum = knowledge_checksum(knowledge_dir)
    # One table of unique texts is encoded once. Each passage is found through several "keys":
    # its own text, each of its sentences (when it has more than one) and the annotated questions
    # it answers; a passage scores the best of its keys. Sentence vectors double as highlighters.
    unique: dict[str, int] = {}
    key_rows: list[int] = []
    key_offsets = [0]
    sentence_rows: list[int] = []
    sentence_offsets = [0]
    for passage in passages:
        sentence_keys = list(passage.sentences) if len(passage.sentences) > 1 else []
        for text in (passage.text, *sentence_keys, *passage.hints):
            key_rows.append(unique.setdefault(text, len(unique)))
        key_offsets.append(len(key_rows))
        for sentence in passage.sentences:
            sentence_rows.append(unique.setdefault(sentence, len(unique)))
        sentence_offsets.append(len(sentence_rows))
    table = encode_with_progress(embedder, list(unique), desc="Embedding", progress=progress)
    key_vectors = table[np.asarray(key_rows, dtype=np.int64)]
    sentence_vectors = table[np.asarray(sentence_rows, dtype=np.int64)]
    vectors = VectorIndex.build(key_vectors, kind=kind or "auto")
    bm25 = build_bm25(passages)
    seconds = time.perf_counter() - started
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        model=embedder.name,
        dim=embedder.dim,
        passages=len(passages),
        sentences=len(sentence_vectors),
        keys=len(key_vectors),
        documents=document_count,
        knowledge_checksum=checksum,
        chunker_version=CHUNKER_VERSION,
        index_kind=vectors.kind,
        built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        build_seconds=round(seconds, 3),
    )
    path = publish_index(
        index_dir,
        manifest=manifest,
        passages=passages,
        vectors=vectors,
        key_offsets=np.asarray(key_offsets, dtype=np.int64),
        sentence_vectors=sentence_vectors,
        sentence_offsets=np.asarray(sentence_offsets, dtype=np.int64),
        bm25=bm25,
    )
    return BuildSummary(
        documents=document_count,
        passages=len(passages),
        sentences=len(sentence_vectors),
        seconds=seconds,
        index_kind=vectors.kind,
        path=path,
    )
