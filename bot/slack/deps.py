"""What listeners need, built once and handed to ``register(app, deps)``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.digests import DigestService
from bot.gaps import GapService, GapTickReport
from bot.pitfalls import PitfallDetector
from bot.services import Services
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
    # Where answers and pitfall checks run: low-priority threads, so acks come first.
    work: ModelWork = field(default_factory=ModelWork)
