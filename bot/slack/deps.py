"""What listeners need, built once and handed to ``register(app, deps)``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.digests import DigestService, default_worker_id
from bot.gaps import GapService, GapTickReport
from bot.pitfalls import PitfallDetector
from bot.services import Services
from bot.slack.workspaces import Workspaces
from bot.store import Storage
from bot.work import ModelWork

__all__ = ["BotDeps"]


@dataclass
class BotDeps:
    services: Services
    storage: Storage
    detector: PitfallDetector
    digests: DigestService
    radar_threshold: float = 0.5
    # The knowledge owners' gap report (None: no owners configured, /ml-gaps refuses).
    gaps: GapService | None = None
    gap_report_days: int = 7
    # One weekly pass of gap reports, run by the scheduler beside the digests.
    gaps_tick: Callable[[], GapTickReport] | None = None
    # Durable questions: who this process is, and how long its claim on a question lasts.
    worker_id: str = field(default_factory=default_worker_id)
    job_lease: dt.timedelta = dt.timedelta(seconds=60)
    # A Web API client per workspace, for work outside a request (recovering questions).
    workspaces: Workspaces | None = None
    # Where answers and pitfall checks run: low-priority threads, so acks come first.
    work: ModelWork = field(default_factory=ModelWork)
