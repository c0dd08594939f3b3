"""Retrieval evaluation on a gold question set: hit@1, hit@3, MRR@5, answered and abstention."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from tqdm import tqdm

from index.search import MODES, Mode, Retriever, SearchResult
from knowledge.schema import EvalSet

__all__ = ["ModeReport", "calibrate", "evaluate", "format_table"]


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class ModeReport:
    mode: Mode
    hit_at_1: float
    hit_at_3: float
    mrr_at_5: float
    answered: float
    abstained: float
    in_domain: int
    out_of_domain: int
    threshold: float
    misses: tuple[str, ...]


def _rank(result: SearchResult, spans: Sequence[str]) -> int | None:
    wanted = [_normalise(s) for s in spans]
    for rank, hit in enumerate(result.hits, start=1):
        text = _normalise(hit.passage.text)
        if any(span in text for span in wanted):
            return rank
    return None


def _run(retriever: Retriever, eval_set: EvalSet, mode: Mode, progress: bool):
    questions = [q.question for q in eval_set.in_domain] + [
        q.question for q in eval_set.out_of_domain
    ]
    results = [
        retriever.search(q, k=5, mode=mode)
        for q in tqdm(
            questions, desc=f"Evaluating {mode}", disable=not progress, file=sys.stderr, leave=False
        )
    ]
    return results[: len(eval_set.in_domain)], results[len(eval_set.in_domain) :]


def evaluate(
    retriever: Retriever,
    eval_set: EvalSet,
    *,
    modes: Sequence[Mode] = MODES,
    progress: bool = False,
) -> list[ModeReport]:
    reports = []
    for mode in modes:
        inside, outside = _run(retriever, eval_set, mode, progress)
        threshold = retriever.thresholds.for_mode(mode)
        ranks = [_rank(r, q.answers) for r, q in zip(inside, eval_set.in_domain, strict=True)]
        n_in, n_out = len(inside), len(outside)
        reports.append(
            ModeReport(
                mode=mode,
                hit_at_1=sum(r == 1 for r in ranks) / n_in,
                hit_at_3=sum(r is not None and r <= 3 for r in ranks) / n_in,
                mrr_at_5=sum(1 / r for r in ranks if r is not None) / n_in,
                answered=sum(r.confidence >= threshold for r in inside) / n_in,
                abstained=sum(r.confidence < threshold for r in outside) / n_out,
                in_domain=n_in,
                out_of_domain=n_out,
                threshold=threshold,
                misses=tuple(
                    q.id
                    for q, r in zip(eval_set.in_domain, ranks, strict=True)
                    if r is None or r > 3
                ),
            )
        )
    return reports


def calibrate(retriever: Retriever, eval_set: EvalSet, *, mode: Mode) -> tuple[float, float, float]:
    """The threshold maximising answered + abstained: (threshold, answered, abstained)."""
    inside, outside = _run(retriever, eval_set, mode, progress=False)
    conf_in = sorted(r.confidence for r in inside)
    conf_out = sorted(r.confidence for r in outside)
    best = (0.0, 0.0, 0.0)
    best_total = -1.0
    for threshold in sorted(set(conf_in)):
        answered = sum(c >= threshold for c in conf_in) / len(conf_in)
        abstained = sum(c < threshold for c in conf_out) / len(conf_out)
        # Prefer answering: among equal totals the lowest threshold wins.
        if answered + abstained > best_total:
            best, best_total = (threshold, answered, abstained), answered + abstained
    return best


def format_table(reports: Sequence[ModeReport]) -> str:
    header = (
        f"{'mode':<8} {'hit@1':>6} {'hit@3':>6} {'MRR@5':>6} "
        f"{'answered':>9} {'abstain':>8} {'threshold':>9}"
    )
    lines = [header, "-" * len(header)]
    for r in reports:
        lines.append(
            f"{r.mode:<8} {r.hit_at_1:>6.3f} {r.hit_at_3:>6.3f} {r.mrr_at_5:>6.3f} "
            f"{r.answered:>9.3f} {r.abstained:>8.3f} {r.threshold:>9.3f}"
        )
    if reports:
        lines.append(
            f"({reports[0].in_domain} in-domain questions, "
            f"{reports[0].out_of_domain} out-of-domain)"
        )
    return "\n".join(lines)
