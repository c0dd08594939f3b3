"""The pitfall detector: text -> the pitfalls it risks, with scores.

Two questions, answered by logistic regressions on three views of a text (its sentence
embedding, character 2–5-gram and word 1–2-gram TF-IDF):
- *what is it about?* (topic): which pitfall's subject the text is on, or none. Trained on each
  pitfall's examples and near-misses as that pitfall's topic, unrelated messages as none; a
  message that risks two pitfalls trains as an example of each. A training message that risks
  none is given the topic the catalogue's own topic model sees in it.
- *is it risky?* (risk): does the text describe the anti-pattern or sound practice. Asked twice:
  once of a model trained on every pitfall's examples (risky) against near-misses and unrelated
  messages, so the telling phrases ("by Friday", "no flag", "only AUC") are learnt from all
  pitfalls together, and once of the pitfall's own model (its examples against its
  near-misses); the text must convince both.
P(pitfall) = P(topic) × min(P(risky), P(risky | pitfall)). Near-misses are what this split is
for: "dashboards and drift alerts went live before launch" is on the monitoring topic but not
risky. Every pitfall that reaches the threshold is reported (a plan can risk several).

Training data: the catalogue (``pitfalls.yaml``) and labelled messages written like real Slack
posts (``pitfall_training_messages.yaml``), which are longer and messier than the catalogue's
examples and moved cross-validated precision and recall up. The embedding counts for less than
the TF-IDF views (``_EMBEDDING_WEIGHT``). A text is scored whole and, when it has several
sentences or lines, sentence by sentence at a discount (``_SENTENCE_FACTOR``): the second
pitfall of a message often sits in a sentence of its own, where the whole text's topic is
dominated by the first. The evidence of a match is the piece that scored it.

Settings (C, the embedding weight, the discount, the threshold) were chosen by 5-fold
cross-validation over the training messages (``cross_validate_detector``), never on the
evaluation set (``knowledge/eval/pitfall_messages.yaml``). The trained detector is cached on
disk.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import pickle
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.embedder import Embedder
from index.store import write_atomic
from index.text import clean_text, split_sentences
from knowledge.schema import LabelledMessage, LabelledMessages, Pitfall, Pitfalls, SourceQuote

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

__all__ = [
    "DEFAULT_THRESHOLD",
    "DetectorReport",
    "PitfallDetector",
    "PitfallMatch",
    "cross_validate_detector",
    "evaluate_detector",
]

# Chosen by 5-fold cross-validation over the training messages (never on the evaluation set),
# maximising the lower of precision and recall.
DEFAULT_THRESHOLD = 0.35
# Bumped when training changes, so a cached detector from older code is not reused.
DETECTOR_VERSION = 6
_C = 128.0
# Scale of the (unit-length) sentence embedding beside the two (unit-length) TF-IDF views.
_EMBEDDING_WEIGHT = 0.3
# A sentence scored on its own counts for this much of a whole text's score.
_SENTENCE_FACTOR = 0.6
# Sentences scored per text at most (a pasted plan can be long).
_MAX_PIECES = 40
# Trained detectors (and their training vectors) kept in the cache folder.
_KEEP_CACHED = 3
# A pitfall is named by its id or title: longer text is a plan to check.
_MAX_NAME_CHARS = 80

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PitfallMatch:
    pitfall: Pitfall
    score: float
    # The sentence most telling of this pitfall, when the text has several (else None).
    evidence: str | None = None
    # The pitfall's advice, the quote that best counters this text first.
    advice: tuple[SourceQuote, ...] = ()

    @property
    def best_advice(self) -> SourceQuote:
        return (self.advice or tuple(self.pitfall.advice))[0]

    def to_json(self) -> dict[str, object]:
        advice = self.best_advice
        return {
            "id": self.pitfall.id,
            "title": self.pitfall.title,
            "score": round(self.score, 4),
            "evidence": self.evidence,
            "advice": {"quote": advice.quote, "section": advice.section},
        }


def _features(sparse: list[csr_matrix], vectors: np.ndarray) -> csr_matrix:
    from scipy.sparse import csr_matrix, hstack

    return hstack([*sparse, csr_matrix(vectors * _EMBEDDING_WEIGHT)]).tocsr()


# Topic of a training message with no pitfall, until the catalogue's topic model names it.
_ASK_TOPIC = -1

_Rows = tuple[list[str], list[int], list[int]]


def _training_rows(pitfalls: Pitfalls, messages: Sequence[LabelledMessage] = ()) -> _Rows:
    """Training texts with, for each, a topic (the pitfall's index, or the pitfall count for
    unrelated messages) and whether it is risky. A combined example, or a training message that
    exhibits several pitfalls, gives one risky row per pitfall it names. The catalogue's rows
    come first; a training message that exhibits none has the topic ``_ASK_TOPIC``."""
    texts: list[str] = []
    topics: list[int] = []
    risky: list[int] = []

    def add(batch: Sequence[str], topic: int, is_risky: int) -> None:
        texts.extend(batch)
        topics.extend([topic] * len(batch))
        risky.extend([is_risky] * len(batch))

    index_of = {pitfall.id: index for index, pitfall in enumerate(pitfalls.pitfalls)}
    for index, pitfall in enumerate(pitfalls.pitfalls):
        add(pitfall.examples, index, 1)
        add(pitfall.near_misses, index, 0)
    for example in pitfalls.combined_examples:
        for pitfall_id in example.pitfalls:
            add([example.text], index_of[pitfall_id], 1)
    add(pitfalls.unrelated_examples, len(pitfalls.pitfalls), 0)
    for message in messages:
        for pitfall_id in message.pitfalls:
            add([message.text], index_of[pitfall_id], 1)
        if not message.pitfalls:
            add([message.text], _ASK_TOPIC, 0)
    return texts, topics, risky


def _save_cache(path: Path, data: bytes, pattern: str) -> None:
    """Write a cache file atomically (``serve`` and ``worker`` may train at once), then delete
    all but the newest ``_KEEP_CACHED`` files matching ``pattern``: every edit of the catalogue
    trains anew, and the old models would otherwise pile up in the data folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)
    files = sorted(path.parent.glob(pattern), key=lambda f: f.stat().st_mtime, reverse=True)
    for stale in files[_KEEP_CACHED:]:
        stale.unlink(missing_ok=True)


def _pieces(raw: str) -> list[str]:
    """The sentences of a text, line by line, when it has more than one."""
    pieces = [
        sentence
        for line in raw.splitlines()
        for sentence in split_sentences(clean_text(line).lstrip("-•*· "))
    ]
    return pieces[:_MAX_PIECES] if len(pieces) > 1 else []


class PitfallDetector:
    """Scores texts against every pitfall in the catalogue."""

    def __init__(
        self,
        *,
        embedder: Embedder,
        pitfalls: Pitfalls,
        messages: Sequence[LabelledMessage] = (),
        threshold: float = DEFAULT_THRESHOLD,
        cache_dir: Path | None = None,
    ) -> None:
        """``messages``: labelled messages that train the detector beside the catalogue
        (``knowledge/pitfall_training_messages.yaml``); their pitfall ids must be in it."""
        self.embedder = embedder
        self.pitfalls = pitfalls
        self.threshold = threshold
        rows = _training_rows(pitfalls, messages)
        trained = self._load_trained(rows, cache_dir)
        if trained is None:
            trained = self._train(rows, cache_dir)
        self._views, self._topic, self._risk, self._own_risk = trained

    @functools.cached_property
    def _advice_vectors(self) -> list[np.ndarray]:
        """Every advice quote's vector, to pick the one that answers a text's own words.
        Encoded at the first match, not at start-up (two threads may both encode it once:
        the same vectors)."""
        pitfalls = self.pitfalls.pitfalls
        quotes = [a.quote for p in pitfalls for a in p.advice]
        vectors = self.embedder.encode(quotes)
        starts = np.cumsum([0, *(len(p.advice) for p in pitfalls)])
        return [vectors[starts[i] : starts[i + 1]] for i in range(len(pitfalls))]

    def _cache_path(self, rows: _Rows, cache_dir: Path) -> Path:
        import sklearn

        payload = [
            DETECTOR_VERSION,
            sklearn.__version__,
            _C,
            _EMBEDDING_WEIGHT,
            self.embedder.name,
            rows,
        ]
        key = hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()[:16]
        return cache_dir / f"pitfall-detector-{key}.pickle"

    def _load_trained(
        self, rows: _Rows, cache_dir: Path | None
    ) -> tuple[Any, Any, Any, list[Any]] | None:
        """The models trained earlier for exactly this catalogue and embedding model, if
        cached (training costs several seconds otherwise)."""
        if cache_dir is None:
            return None
        path = self._cache_path(rows, cache_dir)
        try:
            with path.open("rb") as handle:
                # Our own file, written by _train below into the bot's data folder.
                views, topic, risk, own_risk = pickle.load(handle)  # noqa: S301
        except FileNotFoundError:
            return None
        except Exception:
            log.warning("ignoring unreadable detector cache %s", path)
            return None
        return views, topic, risk, own_risk

    def _train(self, rows: _Rows, cache_dir: Path | None) -> tuple[Any, Any, Any, list[Any]]:
        # scikit-learn costs over a second to import: only the detector's users pay for it.
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits

        texts, topic_labels, risky_labels = rows
        # A combined example appears once per pitfall it names: embed each text once.
        distinct = {text: row for row, text in enumerate(dict.fromkeys(texts))}
        vectors = self._training_vectors(list(distinct), cache_dir)[[distinct[t] for t in texts]]
        views = (
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
            TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
        )
        for view in views:
            view.fit(list(distinct))
        features = _features([view.transform(texts) for view in views], vectors)
        topic_y, risky_y = np.asarray(topic_labels), np.asarray(risky_labels)

        def fit(rows: np.ndarray, target: np.ndarray) -> Any:
            model = LogisticRegression(C=_C, class_weight="balanced", max_iter=5000)
            return model.fit(features[rows], target[rows])

        every = np.arange(len(texts))
        # One BLAS thread: on matrices this small, more threads only wait for each other.
        with threadpool_limits(1, "blas"):
            ask = np.flatnonzero(topic_y == _ASK_TOPIC)
            if len(ask):
                # A training message with no pitfall is a near-miss of the pitfall whose topic
                # it is on, or unrelated: the topic model trained on the catalogue alone says
                # which (on cross-validation this beat calling them all unrelated).
                catalogue = np.arange(len(_training_rows(self.pitfalls)[0]))
                topic_y[ask] = fit(catalogue, topic_y).predict(features[ask])
            topic, risk = fit(every, topic_y), fit(every, risky_y)
            own_risk = [
                fit(np.flatnonzero(topic_y == index), risky_y)
                for index in range(len(self.pitfalls.pitfalls))
            ]
        if cache_dir is not None:
            _save_cache(
                self._cache_path(rows, cache_dir),
                pickle.dumps((views, topic, risk, own_risk)),
                "pitfall-detector-*.pickle",
            )
        return views, topic, risk, own_risk

    def probabilities(self, texts: Sequence[str], vectors: np.ndarray | None = None) -> np.ndarray:
        """P(pitfall | text) for each text (rows) and pitfall (columns, catalogue order);
        ``vectors``: the texts' embeddings when the caller already has them."""
        count = len(self.pitfalls.pitfalls)
        if not texts:
            return np.zeros((0, count))
        if vectors is None:
            vectors = self.embedder.encode(texts)
        features = _features([view.transform(texts) for view in self._views], vectors)
        # The topic model's classes are 0..count (count = none of the pitfalls).
        topic = self._topic.predict_proba(features)[:, :count]
        risky = self._risk.predict_proba(features)[:, 1]
        own = np.stack([model.predict_proba(features)[:, 1] for model in self._own_risk], axis=1)
        return topic * np.minimum(risky[:, None], own)

    def _training_vectors(self, texts: list[str], cache_dir: Path | None) -> np.ndarray:
        key = hashlib.sha256(
            json.dumps([self.embedder.name, texts], ensure_ascii=False).encode()
        ).hexdigest()[:16]
        path = cache_dir / f"pitfall-vectors-{key}.npy" if cache_dir else None
        if path and path.exists():
            try:
                cached = np.load(path)
                if cached.shape == (len(texts), self.embedder.dim):
                    return cached
            except (OSError, ValueError):
                log.warning("ignoring unreadable pitfall cache %s", path)
        vectors = self.embedder.encode(texts)
        if path:
            buffer = io.BytesIO()
            np.save(buffer, vectors)
            _save_cache(path, buffer.getvalue(), "pitfall-vectors-*.npy")
        return vectors

    def score_many(
        self,
        texts: Sequence[str],
        *,
        encode: Callable[[list[str]], np.ndarray] | None = None,
    ) -> list[list[PitfallMatch]]:
        """Matches above the threshold for each text, best first (one encode call in all,
        through ``encode`` when given: the bot runs it in slices on its model threads)."""
        pieces: list[str] = []
        spans: list[tuple[int, int, int]] = []  # (text number, row of the whole text, end row)
        for number, raw in enumerate(texts):
            text = clean_text(raw)
            if text:
                start = len(pieces)
                pieces += [text, *_pieces(raw)]
                spans.append((number, start, len(pieces)))
        results: list[list[PitfallMatch]] = [[] for _ in texts]
        if not pieces:
            return results
        vectors = (encode or self.embedder.encode)(pieces)
        probabilities = self.probabilities(pieces, vectors)
        for number, start, end in spans:
            scores = probabilities[start]
            sentences = probabilities[start + 1 : end]  # empty for a one-sentence text
            if len(sentences):
                scores = np.maximum(scores, _SENTENCE_FACTOR * sentences.max(axis=0))
            for column in np.flatnonzero(scores >= self.threshold).tolist():
                row = start + 1 + int(sentences[:, column].argmax()) if len(sentences) else start
                pitfall = self.pitfalls.pitfalls[column]
                results[number].append(
                    PitfallMatch(
                        pitfall,
                        float(scores[column]),
                        pieces[row] if len(sentences) else None,
                        self._ranked_advice(column, vectors[row]),
                    )
                )
            results[number].sort(key=lambda m: -m.score)
        return results

    def _ranked_advice(self, column: int, vector: np.ndarray) -> tuple[SourceQuote, ...]:
        """The pitfall's advice, closest to the words that showed it first (catalogue order
        breaks ties)."""
        advice = self.pitfalls.pitfalls[column].advice
        similarity = self._advice_vectors[column] @ vector
        order = sorted(range(len(advice)), key=lambda i: (-round(float(similarity[i]), 3), i))
        return tuple(advice[i] for i in order)

    def detect(
        self, text: str, *, encode: Callable[[list[str]], np.ndarray] | None = None
    ) -> list[PitfallMatch]:
        return self.score_many([text], encode=encode)[0]


@dataclass(frozen=True)
class DetectorReport:
    precision: float
    recall: float
    true_positives: int
    false_positives: int
    false_negatives: int
    messages: int
    mistakes: tuple[str, ...]


def _report(
    messages: Sequence[LabelledMessage], found: Sequence[list[PitfallMatch]]
) -> DetectorReport:
    """Micro precision and recall over (message, pitfall) pairs."""
    tp = fp = fn = 0
    mistakes = []
    for message, matches in zip(messages, found, strict=True):
        predicted = {m.pitfall.id for m in matches}
        gold = set(message.pitfalls)
        tp += len(predicted & gold)
        fp += len(predicted - gold)
        fn += len(gold - predicted)
        if predicted != gold:
            mistakes.append(
                f"{message.text[:70]!r}: expected {sorted(gold)}, got {sorted(predicted)}"
            )
    return DetectorReport(
        precision=tp / (tp + fp) if tp + fp else 1.0,
        recall=tp / (tp + fn) if tp + fn else 1.0,
        true_positives=tp,
        false_positives=fp,
        false_negatives=fn,
        messages=len(messages),
        mistakes=tuple(mistakes),
    )


def evaluate_detector(detector: PitfallDetector, messages: LabelledMessages) -> DetectorReport:
    """How well ``detector`` finds the labelled pitfalls of ``messages``."""
    return _report(messages.messages, detector.score_many([m.text for m in messages.messages]))


def cross_validate_detector(
    train: Callable[[Sequence[LabelledMessage]], PitfallDetector],
    messages: LabelledMessages,
    *,
    folds: int = 5,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> DetectorReport:
    """K-fold cross-validation over training messages: each message is scored by a detector
    that ``train`` builds from the other folds' messages (and the catalogue), never from its
    own. This is how the detector's settings are chosen (the evaluation set only reports)."""
    every = list(messages.messages)
    order = list(range(len(every)))
    random.Random(seed).shuffle(order)
    found: list[list[PitfallMatch]] = [[] for _ in every]
    for fold in range(folds):
        if progress:
            progress(fold + 1, folds)
        held = order[fold::folds]
        kept = set(order) - set(held)
        detector = train([every[i] for i in sorted(kept)])
        for i, matches in zip(
            held, detector.score_many([every[i].text for i in held]), strict=True
        ):
            found[i] = matches
    return _report(every, found)


def find_pitfall(pitfalls: Pitfalls, text: str) -> Pitfall | None:
    """The pitfall ``text`` names (its id or title, any case, optional backticks), if any."""
    name = text.strip().strip("`'\"“”").strip().casefold()
    if not name or len(name) > _MAX_NAME_CHARS:
        return None
    return next(
        (p for p in pitfalls.pitfalls if name in (p.id.casefold(), p.title.casefold())), None
    )
