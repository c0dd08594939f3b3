"""Build the long-lived objects once (model, index, retriever, catalogues) and pass them around."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from bot.answers import AnswerService
from bot.settings import Settings
from index.documents import knowledge_checksum
from index.embedder import Embedder, SentenceTransformerEmbedder
from index.search import Retriever, Thresholds
from index.store import IndexMismatchError, IndexMissingError, LoadedIndex, load_index
from knowledge import (
    DEFAULT_KNOWLEDGE_DIR,
    TRAINING_MESSAGES,
    load_checklists,
    load_labelled_messages,
    load_pitfalls,
)
from knowledge.errors import KnowledgeError
from knowledge.schema import Checklists, LabelledMessage, Pitfalls

if TYPE_CHECKING:
    from bot.pitfalls import PitfallDetector

__all__ = [
    "Services",
    "answer_with_one_blas_thread",
    "build_services",
    "catalogue_path",
    "make_embedder",
    "open_index",
    "stderr_notice",
    "training_messages",
]

Notify = Callable[[str], None]


def stderr_notice(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Services:
    settings: Settings
    embedder: Embedder
    index: LoadedIndex
    retriever: Retriever
    answers: AnswerService
    checklists: Checklists
    pitfalls: Pitfalls


def catalogue_path(settings: Settings, name: str) -> Path:
    # A custom knowledge folder may hold only documents: fall back to the shipped catalogues.
    own = settings.knowledge_dir / name
    return own if own.exists() else DEFAULT_KNOWLEDGE_DIR / name


def open_index(
    *,
    settings: Settings,
    embedder: Embedder,
    rebuild: bool | None = None,
    notify: Notify = stderr_notice,
    progress: bool = False,
) -> LoadedIndex:
    """Load the index, building it first when there is none yet, and rebuilding it (when
    allowed) when the knowledge changed or it was built by another model or chunker."""
    index_dir = settings.resolved_index_dir
    allowed = settings.auto_rebuild if rebuild is None else rebuild
    try:
        loaded = load_index(index_dir, model=embedder.name, dim=embedder.dim)
    except IndexMissingError:
        # Nothing to answer from yet: the first use builds it, whatever AUTO_REBUILD says.
        notify(f"No index in {index_dir} yet: building it from {settings.knowledge_dir}…")
        return _build(settings, embedder, notify=notify, progress=progress)
    except IndexMismatchError as exc:
        if not allowed:
            raise
        notify(f"{exc} Rebuilding…")
        return _build(settings, embedder, notify=notify, progress=progress)
    if loaded.manifest.knowledge_checksum == knowledge_checksum(settings.knowledge_dir):
        return loaded
    if not allowed:
        notify(
            f"warning: the knowledge in {settings.knowledge_dir} changed since the index was "
            "built; answering from the old index (run `mlbot index build` to refresh)"
        )
        return loaded
    notify(f"The knowledge in {settings.knowledge_dir} changed since the last build: rebuilding…")
    return _build(settings, embedder, notify=notify, progress=progress)


def _build(
    settings: Settings, embedder: Embedder, *, notify: Notify, progress: bool
) -> LoadedIndex:
    from index.build import build_index  # bm25s and scipy: only when a build is needed

    def skip(error: KnowledgeError) -> None:
        notify(f"skipped: {error}")

    summary = build_index(
        knowledge_dir=settings.knowledge_dir,
        index_dir=settings.resolved_index_dir,
        embedder=embedder,
        progress=progress,
        on_error=skip if settings.skip_bad_documents else None,
    )
    notify(f"Built: {summary.passages} passages from {summary.documents} documents.")
    return load_index(settings.resolved_index_dir, model=embedder.name, dim=embedder.dim)


@functools.lru_cache(maxsize=4)
def _embedder_for(
    model: str, backend: str = "torch", cache_dir: Path | None = None, threads: int | None = None
) -> Embedder:
    if backend == "onnx":
        from index.onnx_embedder import OnnxEmbedder

        assert cache_dir is not None
        return OnnxEmbedder(model, cache_dir=cache_dir, threads=threads)
    return SentenceTransformerEmbedder(model)


def make_embedder(settings: Settings) -> Embedder:
    """The configured embedder; loaded once per process and configuration, then shared."""
    return _embedder_for(
        settings.embedding_model,
        settings.embedding_backend,
        settings.resolved_onnx_cache_dir,
        settings.embedding_threads,
    )


def training_messages(settings: Settings, pitfalls: Pitfalls) -> list[LabelledMessage]:
    """The labelled messages that train the detector beside the catalogue: the knowledge
    folder's own ``pitfall_training_messages.yaml``, else the shipped one, but only with the
    shipped catalogue (its labels name the shipped pitfalls)."""
    path = catalogue_path(settings, TRAINING_MESSAGES)
    shipped_catalogue = catalogue_path(settings, "pitfalls.yaml").parent == DEFAULT_KNOWLEDGE_DIR
    if path.parent == DEFAULT_KNOWLEDGE_DIR and not shipped_catalogue:
        return []
    return load_labelled_messages(path, pitfalls=pitfalls).messages


def make_detector(
    settings: Settings, *, embedder: Embedder | None = None, pitfalls: Pitfalls | None = None
) -> PitfallDetector:
    """The pitfall detector for these settings, its trained models cached in the data folder."""
    from bot.pitfalls import PitfallDetector

    pitfalls = pitfalls or load_pitfalls(catalogue_path(settings, "pitfalls.yaml"))
    return PitfallDetector(
        embedder=embedder or make_embedder(settings),
        pitfalls=pitfalls,
        messages=training_messages(settings, pitfalls),
        cache_dir=settings.data_dir / "cache",
    )


def answer_with_one_blas_thread() -> None:
    """Answering multiplies small matrices (a question against a few thousand key or token
    vectors), which one BLAS thread does fastest: OpenBLAS's own threads spin against ONNX
    Runtime's for the same cores (on 2 cores a warm answer on the article took 16.7 ms with
    them and 4.7 ms without). Applies to this process from now on."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def build_services(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    rebuild: bool | None = None,
    notify: Notify = stderr_notice,
) -> Services:
    answer_with_one_blas_thread()
    embedder = embedder or make_embedder(settings)
    index = open_index(
        settings=settings,
        embedder=embedder,
        rebuild=rebuild,
        notify=notify,
        progress=sys.stderr.isatty(),  # a build's progress bar, where a person is watching
    )
    thresholds = Thresholds()
    if settings.min_confidence is not None:
        thresholds = replace(thresholds, hybrid=settings.min_confidence)
    retriever = Retriever(index=index, embedder=embedder, thresholds=thresholds)
    checklists = load_checklists(catalogue_path(settings, "checklists.yaml"))
    pitfalls = load_pitfalls(catalogue_path(settings, "pitfalls.yaml"))
    answers = AnswerService(
        retriever=retriever,
        checklists=checklists,
        passages=settings.answer_passages,
        max_question_chars=settings.max_question_chars,
    )
    return Services(
        settings=settings,
        embedder=embedder,
        index=index,
        retriever=retriever,
        answers=answers,
        checklists=checklists,
        pitfalls=pitfalls,
    )
