"""Retrieval core: documents -> passages -> embeddings -> FAISS + BM25 -> hybrid search.

Nothing here knows about Slack; the bot and the CLI both sit on top of it.
"""

from __future__ import annotations

from index.documents import Document, Passage, knowledge_checksum, load_passages
from index.embedder import DEFAULT_MODEL, Embedder, EmbedderError, SentenceTransformerEmbedder
from index.search import Hit, Mode, Retriever, SearchResult, Thresholds
from index.store import (
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    IndexStoreError,
    LoadedIndex,
    Manifest,
    load_index,
    read_manifest,
)


def __getattr__(name: str) -> object:
    # Building needs bm25s (and scipy); answering does not, so it is imported on first use.
    if name in ("BuildSummary", "build_index"):
        from index import build

        return getattr(build, name)
    raise AttributeError(f"module 'index' has no attribute {name!r}")


__all__ = [
    "DEFAULT_MODEL",
    "BuildSummary",
    "Document",
    "Embedder",
    "EmbedderError",
    "Hit",
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexMissingError",
    "IndexStoreError",
    "LoadedIndex",
    "Manifest",
    "Mode",
    "Passage",
    "Retriever",
    "SearchResult",
    "SentenceTransformerEmbedder",
    "Thresholds",
    "build_index",
    "knowledge_checksum",
    "load_index",
    "load_passages",
    "read_manifest",
]
