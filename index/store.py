"""The on-disk index: FAISS vectors, passages, sentence vectors, BM25 and a manifest.

Every build is written to a fresh folder beside the live one and published by atomically
replacing the ``CURRENT`` pointer file, so a failed or interrupted build never replaces a good
index and readers never see half of one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.documents import CHUNKER_VERSION, Passage
from index.keywords import KeywordIndex
from index.vectors import IndexKind, VectorIndex

if TYPE_CHECKING:
    import bm25s  # building only: answering reads its arrays with KeywordIndex

__all__ = [
    "FORMAT_VERSION",
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexMissingError",
    "IndexStoreError",
    "LoadedIndex",
    "Manifest",
    "load_index",
    "publish_index",
    "read_manifest",
    "read_passages",
    "write_atomic",
]

FORMAT_VERSION = 1
_CURRENT = "CURRENT"
_KEEP_OLD_BUILDS = 1


class IndexStoreError(RuntimeError):
    """The index cannot be used; the message says why and what to do."""


class IndexMissingError(IndexStoreError):
    pass


class IndexCorruptError(IndexStoreError):
    pass


class IndexMismatchError(IndexStoreError):
    pass


@dataclass(frozen=True)
class Manifest:
    format_version: int
    model: str
    dim: int
    passages: int
    sentences: int
    keys: int
    documents: int
    knowledge_checksum: str
    chunker_version: int
    index_kind: IndexKind
    built_at: str
    build_seconds: float

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


@dataclass
class LoadedIndex:
    """Everything search needs, in memory."""

    path: Path
    manifest: Manifest
    passages: list[Passage]
    vectors: VectorIndex
    key_offsets: np.ndarray
    sentence_vectors: np.ndarray
    sentence_offsets: np.ndarray
    bm25: KeywordIndex

    def __post_init__(self) -> None:
        # Which passage each key vector belongs to (keys are stored passage by passage).
        self.key_owner = np.repeat(
            np.arange(len(self.key_offsets) - 1, dtype=np.int64), np.diff(self.key_offsets)
        )

    def key_ids_for(self, passage_id: int) -> np.ndarray:
        return np.arange(self.key_offsets[passage_id], self.key_offsets[passage_id + 1])

    def sentence_vectors_for(self, passage_id: int) -> np.ndarray:
        start, end = self.sentence_offsets[passage_id], self.sentence_offsets[passage_id + 1]
        return self.sentence_vectors[start:end]


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never part."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def publish_index(
    index_dir: Path,
    *,
    manifest: Manifest,
    passages: list[Passage],
    vectors: VectorIndex,
    key_offsets: np.ndarray,
    sentence_vectors: np.ndarray,
    sentence_offsets: np.ndarray,
    bm25: bm25s.BM25,
) -> Path:
    """Write a complete build into its own folder, then point ``CURRENT`` at it."""
    index_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    build = Path(tempfile.mkdtemp(dir=index_dir, prefix=f"build-{stamp}-"))
    try:
        vectors.save(build / "vectors.faiss")
        np.save(build / "key_offsets.npy", key_offsets.astype(np.int64))
        np.save(build / "sentence_vectors.npy", sentence_vectors.astype(np.float32))
        np.save(build / "sentence_offsets.npy", sentence_offsets.astype(np.int64))
        with (build / "passages.jsonl").open("w", encoding="utf-8") as handle:
            for passage in passages:
                handle.write(json.dumps(asdict(passage), ensure_ascii=False) + "\n")
        bm25.save(str(build / "bm25"))
        (build / "manifest.json").write_text(json.dumps(asdict(manifest), indent=2) + "\n")
        write_atomic(index_dir / _CURRENT, build.name.encode())
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    _prune(index_dir, keep=build.name)
    return build


def _prune(index_dir: Path, *, keep: str) -> None:
    # Keep the newest older build too: a reader that opened it a moment ago can finish.
    old = sorted(
        (p for p in index_dir.glob("build-*") if p.is_dir() and p.name != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for stale in old[_KEEP_OLD_BUILDS:]:
        shutil.rmtree(stale, ignore_errors=True)


def _current_build(index_dir: Path) -> Path:
    pointer = index_dir / _CURRENT
    if not pointer.is_file():
        raise IndexMissingError(f"no index at {index_dir}. Build it with: mlbot index build")
    build = index_dir / pointer.read_text().strip()
    if not build.is_dir():
        raise IndexCorruptError(
            f"{pointer} points at {build.name}, which is missing. Rebuild with: mlbot index build"
        )
    return build


def read_manifest(index_dir: Path) -> Manifest:
    return _read_build_manifest(_current_build(index_dir))


def read_passages(index_dir: Path) -> tuple[Manifest, list[Passage]]:
    """The live index's manifest and passages (from one build), without its vectors."""
    build = _current_build(index_dir)
    manifest = _read_build_manifest(build)
    path = build / "passages.jsonl"
    try:
        with path.open(encoding="utf-8") as handle:
            return manifest, [_passage_from_json(line) for line in handle]
    except (OSError, ValueError, TypeError) as exc:
        raise IndexCorruptError(
            f"{path} is damaged ({exc}). Rebuild with: mlbot index build"
        ) from None


def _read_build_manifest(build: Path) -> Manifest:
    path = build / "manifest.json"
    try:
        return Manifest.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(
            f"{path} is unreadable ({exc}). Rebuild with: mlbot index build"
        ) from None


def _passage_from_json(line: str) -> Passage:
    data = json.loads(line)
    data["sentences"] = tuple(data["sentences"])
    return Passage(**data)


def load_index(index_dir: Path, *, model: str, dim: int | None = None) -> LoadedIndex:
    """Load and check the live index; any damage or mismatch is an :class:`IndexStoreError`."""
    # Resolve CURRENT once: a build published meanwhile must not pair its manifest with
    # another build's files.
    build = _current_build(index_dir)
    manifest = _read_build_manifest(build)
    rebuild = "Rebuild with: mlbot index build"
    if manifest.format_version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"{build} has index format {manifest.format_version}, this version reads "
            f"{FORMAT_VERSION}. {rebuild}"
        )
    if manifest.model != model:
        raise IndexMismatchError(
            f"{build} was built with model {manifest.model!r} but EMBEDDING_MODEL is {model!r}. "
            f"{rebuild}"
        )
    if dim is not None and manifest.dim != dim:
        raise IndexMismatchError(
            f"{build} holds {manifest.dim}-dimensional vectors but the model makes {dim}. {rebuild}"
        )
    if manifest.chunker_version != CHUNKER_VERSION:
        raise IndexMismatchError(f"{build} was chunked by an older version. {rebuild}")
    current = "vectors.faiss"
    try:
        vectors = VectorIndex.load(build / current, kind=manifest.index_kind)
        current = "passages.jsonl"
        with (build / current).open(encoding="utf-8") as handle:
            passages = [_passage_from_json(line) for line in handle]
        current = "key_offsets.npy"
        key_offsets = np.load(build / current)
        current = "sentence_vectors.npy"
        sentence_vectors = np.load(build / current)
        current = "sentence_offsets.npy"
        sentence_offsets = np.load(build / current)
        current = "bm25"
        bm25 = KeywordIndex.load(build / current)
    except Exception as exc:  # FAISS, numpy and json each raise their own types for damage
        raise IndexCorruptError(f"{build / current} is damaged ({exc}). {rebuild}") from None
    problems = []
    if len(passages) != manifest.passages or len(vectors) != manifest.keys:
        problems.append(
            f"{len(passages)} passages and {len(vectors)} vectors, manifest says "
            f"{manifest.passages} and {manifest.keys}"
        )
    if len(key_offsets) != manifest.passages + 1 or (
        len(key_offsets) and key_offsets[-1] != len(vectors)
    ):
        problems.append("key offsets do not match the vectors")
    if vectors.dim != manifest.dim:
        problems.append(f"vectors have {vectors.dim} dimensions, manifest says {manifest.dim}")
    if len(sentence_offsets) != manifest.passages + 1 or (
        len(sentence_offsets) and sentence_offsets[-1] != len(sentence_vectors)
    ):
        problems.append("sentence offsets do not match the sentence vectors")
    if problems:
        raise IndexCorruptError(f"{build} is inconsistent: {'; '.join(problems)}. {rebuild}")
    return LoadedIndex(
        path=build,
        manifest=manifest,
        passages=passages,
        vectors=vectors,
        key_offsets=key_offsets,
        sentence_vectors=sentence_vectors,
        sentence_offsets=sentence_offsets,
        bm25=bm25,
    )
