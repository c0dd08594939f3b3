"""The knowledge owner's gap report: what people asked that the knowledge base could not answer.

Questions not covered, answered with low confidence, voted 👎 or flagged as a gap are grouped
by meaning (agglomerative clustering on the cosine distance between their embeddings, with
the model the bot already has loaded), most-asked first. Each group says how many people
asked, shows one or two example questions and the sections that came closest. No asker is
ever named. Weekly reports go to each owner through the same exactly-once claims as digests.
No Slack types here: the edge renders and posts.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bot.digests import Schedule, default_worker_id, period_key
from bot.store import Storage
from bot.store.gaps import FLAGGED, LOW_CONFIDENCE, NOT_COVERED, THUMBS_DOWN, GapQuestion
from index.embedder import Embedder

__all__ = [
    "CLUSTER_DISTANCE",
    "GapGroup",
    "GapReport",
    "GapService",
    "GapTickReport",
    "cluster",
    "REASON_LABELS",
]

log = logging.getLogger(__name__)

# Questions that are all within this cosine distance of each other (complete linkage: every
# pair, not just a chain) are one group. Chosen on
# knowledge/eval/gap_questions.yaml (paraphrase groups written blind to this code).
CLUSTER_DISTANCE = 0.65
MAX_GROUPS = 8  # what one screen holds; the rest are counted
MAX_EXAMPLES = 2
MAX_SECTIONS = 2
EXAMPLE_CHARS = 160
REASON_LABELS = {
    NOT_COVERED: "not covered",
    THUMBS_DOWN: "👎",
    LOW_CONFIDENCE: "low confidence",
    FLAGGED: "flagged as a gap",
}
# The weekly report: Mondays 09:00 UTC, covering the week before.
WEEKLY = Schedule(cadence="weekly", at_time="09:00", tz="UTC", weekday=0)


def cluster(vectors: np.ndarray, *, distance: float = CLUSTER_DISTANCE) -> list[int]:
    """A group label per row of L2-normalised ``vectors``."""
    if len(vectors) == 0:
        return []
    if len(vectors) == 1:
        return [0]
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="complete", distance_threshold=distance
    )
    return [int(label) for label in model.fit_predict(vectors)]


def trim(text: str, limit: int = EXAMPLE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


@dataclass(frozen=True)
class GapGroup:
    askers: int
    questions: int
    examples: tuple[str, ...]
    reasons: dict[str, int]
    sections: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "askers": self.askers,
            "questions": self.questions,
            "examples": list(self.examples),
            "reasons": dict(self.reasons),
            "closest_sections": list(self.sections),
        }


@dataclass(frozen=True)
class GapReport:
    team_id: str
    start: dt.datetime
    end: dt.datetime
    groups: tuple[GapGroup, ...] = ()
    questions: int = 0
    askers: int = 0

    @property
    def empty(self) -> bool:
        return not self.groups

    @property
    def days(self) -> int:
        return max(1, round((self.end - self.start) / dt.timedelta(days=1)))

    def to_json(self) -> dict[str, Any]:
        """The stable contract of `mlbot gaps --json` (extra keys are additive)."""
        return {
            "workspace": self.team_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "questions": self.questions,
            "askers": self.askers,
            "groups": [group.to_json() for group in self.groups],
        }


def group_questions(found: Sequence[GapQuestion], vectors: np.ndarray) -> list[GapGroup]:
    """Cluster, then describe each group; most-asked (distinct people, then questions) first."""
    labels = cluster(vectors)
    members: dict[int, list[int]] = {}
    for row, label in enumerate(labels):
        members.setdefault(label, []).append(row)
    groups = []
    for rows in members.values():
        centre = vectors[rows].mean(axis=0)
        # The examples: the questions nearest the group's centre, different in wording.
        ranked = sorted(rows, key=lambda r: -float(vectors[r] @ centre))
        examples: list[str] = []
        for row in ranked:
            text = trim(found[row].question)
            if text.lower() not in {e.lower() for e in examples}:
                examples.append(text)
            if len(examples) == MAX_EXAMPLES:
                break
        reasons = Counter(reason for r in rows for reason in found[r].reasons)
        sections = Counter(s for r in rows for s in found[r].sections[:MAX_SECTIONS])
        groups.append(
            GapGroup(
                askers=len({found[r].asker for r in rows}),
                questions=len(rows),
                examples=tuple(examples),
                reasons={k: reasons[k] for k in REASON_LABELS if reasons[k]},
                sections=tuple(s for s, _ in sections.most_common(MAX_SECTIONS)),
            )
        )
    groups.sort(key=lambda g: (-g.askers, -g.questions, g.examples))
    return groups


@dataclass
class GapTickReport:
    sent: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class GapService:
    """Reports on demand (/ml-gaps, `mlbot gaps`) and the weekly DMs to owners."""

    def __init__(
        self,
        *,
        storage: Storage,
        embedder: Callable[[], Embedder],
        owners: Callable[[str], list[str]],
        teams: Callable[[], list[str]],
        low_confidence: float,
        retention_days: int,
        lease: dt.timedelta = dt.timedelta(minutes=5),
        worker_id: str | None = None,
    ) -> None:
        self.storage = storage
        self._embedder = embedder
        self.owners = owners
        self.teams = teams
        self.low_confidence = low_confidence
        self.retention_days = retention_days
        self.lease = lease
        self.worker_id = worker_id or default_worker_id()

    def is_owner(self, team_id: str, user_id: str) -> bool:
        return user_id in self.owners(team_id)

    def forget_expired(self, now: dt.datetime) -> int:
        """Retention: questions older than the retention period are deleted."""
        if not self.retention_days:
            return 0
        return self.storage.purge(now - dt.timedelta(days=self.retention_days))

    def report(self, *, team_id: str, days: int = 7, now: dt.datetime | None = None) -> GapReport:
        end = now or dt.datetime.now(dt.UTC)
        return self.report_between(team_id=team_id, start=end - dt.timedelta(days=days), end=end)

    def report_between(self, *, team_id: str, start: dt.datetime, end: dt.datetime) -> GapReport:
        self.forget_expired(end)
        if self.retention_days:
            start = max(start, end - dt.timedelta(days=self.retention_days))
        found = self.storage.gaps.questions(
            team_id=team_id, start=start, end=end, low_confidence=self.low_confidence
        )
        if not found:
            return GapReport(team_id=team_id, start=start, end=end)
        vectors = self._embedder().encode([q.question for q in found])
        return GapReport(
            team_id=team_id,
            start=start,
            end=end,
            groups=tuple(group_questions(found, np.asarray(vectors, dtype=np.float32))),
            questions=len(found),
            askers=len({q.asker for q in found}),
        )

    def tick(
        self,
        *,
        send: Callable[[str, str, GapReport], str],
        now: dt.datetime | None = None,
    ) -> GapTickReport:
        """One weekly pass: each owner of each workspace gets the last full week's report once.

        ``send(team_id, owner_id, report)`` posts it and returns the message ts; when it
        raises, the claim is kept until its lease ends and a later pass tries again. A week
        with nothing to report is recorded as such, and nothing is sent.
        """
        now = now or dt.datetime.now(dt.UTC)
        end = WEEKLY.latest_run(now)
        start, key = WEEKLY.previous_run(end), period_key(end)
        tick = GapTickReport()
        for team in self.teams():
            report: GapReport | None = None
            for owner in self.owners(team):
                label = f"{team}/{owner}"
                done = self.storage.gaps.report_record(team_id=team, owner_id=owner, period_key=key)
                if done is not None and done.status != "claimed":
                    tick.skipped.append(label)
                    continue
                claimed = self.storage.gaps.claim_report(
                    team_id=team,
                    owner_id=owner,
                    period_key=key,
                    worker=self.worker_id,
                    now=now,
                    lease=self.lease,
                )
                if claimed is None:
                    tick.skipped.append(label)
                    continue
                if report is None:
                    report = self.report_between(team_id=team, start=start, end=end)
                status, ts = "empty", None
                if not report.empty:
                    try:
                        ts = send(team, owner, report)
                    except Exception:
                        # The claim stays until its lease ends; a later pass tries again.
                        log.exception("gap report for owner %s in %s failed", owner, team)
                        tick.failed.append(label)
                        continue
                    status = "posted"
                self.storage.gaps.complete_report(
                    report_id=claimed,
                    worker=self.worker_id,
                    status=status,
                    groups=len(report.groups),
                    message_ts=ts,
                    now=now,
                )
                (tick.sent if status == "posted" else tick.empty).append(label)
        return tick
