"""The pitfall detector: text -> the pitfalls it risks, with scores.

Two questions, answered by logistic regressions on three views of a text (its sentence
embedding, character 2–5-gram and word 1–2-gram TF-IDF):
- *what is it about?* (topic): which pitfall's subject the text is on, or none. Trained on each
  pitfall's examples and near-misses as that pitfall's topic, unrelated messages as none.
- *is it risky?* (risk): does the text describe the anti-pattern or sound practice. Asked twice:
  once of a model trained on every pitfall's examples (risky) against near-misses and unrelated
  messages, so the telling phrases ("by Friday", "no flag", "only AUC") are learnt from all
  pitfalls together, and once of the pitfall's own model (its examples against its
  near-misses); the text must convince both.
P(pitfall) = P(topic) × min(P(risky), P(risky | pitfall)). Near-misses are what this split is
for: "dashboards and drift alerts went live before launch" is on the monitoring topic but not
risky. Every pitfall that reaches the threshold is reported (a plan can risk several).

Settings (C, thresholds) were chosen on a development set (``knowledge/eval/
pitfall_dev_messages.yaml``) written apart from the catalogue and from the evaluation set.
Short texts are scored whole; a long plan is also scored in two-sentence windows, so one risky
line still shows. The trained detector is cached on disk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.embedder import Embedder
from index.text import clean_text, split_sentences
from knowledge.schema import LabelledMessages, Pitfall, Pitfalls

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

__all__ = [
    "DEFAULT_THRESHOLD",
    "DetectorReport",
    "PitfallDetector",
    "PitfallMatch",
    "evaluate_detector",
]

# Chosen on the development set (never on the evaluation set), maximising the lower of
# precision and recall.
DEFAULT_THRESHOLD = 0.2
# Bumped when training changes, so a cached detector from older code is not reused.
DETECTOR_VERSION = 4
_C = 16.0
# Texts with more sentences than this are also scored in windows of two sentences.
_WHOLE_TEXT_SENTENCES = 3
_MAX_WINDOWS = 40

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PitfallMatch:
    pitfall: Pitfall
    score: float
    sentence: str

    def to_json(self) -> dict[str, object]:
        return {"id": self.pitfall.id, "title": self.pitfall.title, "score": round(self.score, 4)}


def _training_texts(pitfalls: Pitfalls) -> tuple[list[str], list[int]]:
    """All training texts and, for each, a label: ``2 * topic + risky``, where topic is the
    pitfall's index (examples and near-misses) or the pitfall count (unrelated messages)."""
    texts: list[str] = []
    labels: list[int] = []
    for index, pitfall in enumerate(pitfalls.pitfalls):
        texts += pitfall.examples
        labels += [2 * index + 1] * len(pitfall.examples)
        texts += pitfall.near_misses
        labels += [2 * index] * len(pitfall.near_misses)
    texts += pitfalls.unrelated_examples
    labels += [2 * len(pitfalls.pitfalls)] * len(pitfalls.unrelated_examples)
    return texts, labels


class PitfallDetector:
    """Scores texts against every pitfall in the catalogue."""

    def __init__(
        self,
        *,
        embedder: Embedder,
        pitfalls: Pitfalls,
        threshold: float = DEFAULT_THRESHOLD,
        cache_dir: Path | None = None,
    ) -> None:
        self.embedder = embedder
        self.pitfalls = pitfalls
        self.threshold = threshold
        texts, labels = _training_texts(pitfalls)
        trained = self._load_trained(texts, labels, cache_dir)
        if trained is None:
            trained = self._train(texts, labels, cache_dir)
        self._views, self._topic, self._risk, self._own_risk = trained

    def _cache_key(self, texts: list[str], labels: list[int]) -> str:
        import sklearn

        payload = [DETECTOR_VERSION, sklearn.__version__, _C, self.embedder.name, texts, labels]
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()[:16]

    def _load_trained(
        self, texts: list[str], labels: list[int], cache_dir: Path | None
    ) -> tuple[Any, Any, Any, list[Any]] | None:
        """The classifiers trained earlier for exactly this catalogue and model, if cached
        (training costs about five seconds of every start otherwise)."""
        if cache_dir is None:
            return None
        path = cache_dir / f"pitfall-detector-{self._cache_key(texts, labels)}.pickle"
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

    def _train(
        self, texts: list[str], labels: list[int], cache_dir: Path | None
    ) -> tuple[Any, Any, Any, list[Any]]:
        # scikit-learn costs over a second to import: only the detector's users pay for it.
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits

        vectors = self._training_vectors(texts, cache_dir)
        views = (
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
            TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
        )
        features = self._features([view.fit_transform(texts) for view in views], vectors)
        y = np.asarray(labels)

        def fit(rows: np.ndarray, target: np.ndarray) -> Any:
            return LogisticRegression(C=_C, class_weight="balanced", max_iter=5000).fit(
                features[rows], target[rows]
            )

        everything = np.arange(len(y))
        # One BLAS thread: on matrices this small, more threads only wait for each other
        # (8.8 s -> 1.2 s for these eleven models on two cores).
        with threadpool_limits(1, "blas"):
            topic, risk = fit(everything, y // 2), fit(everything, y % 2)
            own_risk = [
                fit(np.flatnonzero(y // 2 == index), y % 2)
                for index in range(len(self.pitfalls.pitfalls))
            ]
        if cache_dir is not None:
            path = cache_dir / f"pitfall-detector-{self._cache_key(texts, labels)}.pickle"
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            with tmp.open("wb") as handle:
                pickle.dump((views, topic, risk, own_risk), handle)
            tmp.replace(path)
        return views, topic, risk, own_risk

    @staticmethod
    def _features(sparse: list[csr_matrix], vectors: np.ndarray) -> csr_matrix:
        from scipy.sparse import csr_matrix, hstack

        return hstack([*sparse, csr_matrix(vectors)]).tocsr()

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """P(pitfall | text) for each text (rows) and pitfall (columns, catalogue order)."""
        count = len(self.pitfalls.pitfalls)
        if not texts:
            return np.zeros((0, count))
        features = self._features(
            [view.transform(texts) for view in self._views], self.embedder.encode(texts)
        )
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
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, vectors)
            tmp.replace(path)
        return vectors

    def score_many(self, texts: Sequence[str]) -> list[list[PitfallMatch]]:
        """Matches above the threshold for each text, best first (one encode call in all)."""
        pieces: list[str] = []
        owners: list[int] = []
        for number, raw in enumerate(texts):
            text = clean_text(raw)
            if not text:
                continue
            pieces.append(text)
            owners.append(number)
            sentences = split_sentences(text)
            if len(sentences) > _WHOLE_TEXT_SENTENCES:
                windows = [" ".join(sentences[i : i + 2]) for i in range(len(sentences) - 1)]
                pieces += windows[:_MAX_WINDOWS]
                owners += [number] * len(windows[:_MAX_WINDOWS])
        results: list[list[PitfallMatch]] = [[] for _ in texts]
        if not pieces:
            return results
        probabilities = self.probabilities(pieces)
        best: dict[tuple[int, int], tuple[float, str]] = {}
        for row, (owner, piece) in enumerate(zip(owners, pieces, strict=True)):
            columns = np.flatnonzero(probabilities[row] >= self.threshold).tolist()
            for column in columns:
                score = float(probabilities[row, column])
                if score > best.get((owner, column), (0.0, ""))[0]:
                    best[(owner, column)] = (score, piece)
        for (owner, column), (score, piece) in best.items():
            results[owner].append(PitfallMatch(self.pitfalls.pitfalls[column], score, piece))
        for matches in results:
            matches.sort(key=lambda m: -m.score)
        return results

    def detect(self, text: str) -> list[PitfallMatch]:
        return self.score_many([text])[0]


@dataclass(frozen=True)
class DetectorReport:
    precision: float
    recall: float
    true_positives: int
    false_positives: int
    false_negatives: int
    messages: int
    mistakes: tuple[str, ...]


def evaluate_detector(detector: PitfallDetector, messages: LabelledMessages) -> DetectorReport:
    """Micro precision and recall over (message, pitfall) pairs of a labelled set."""
    found = detector.score_many([m.text for m in messages.messages])
    tp = fp = fn = 0
    mistakes = []
    for message, matches in zip(messages.messages, found, strict=True):
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
        messages=len(messages.messages),
        mistakes=tuple(mistakes),
    )
