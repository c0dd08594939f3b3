"""Model work (answers, pitfall checks) on a few low-priority threads.

Slack wants every request acknowledged within 3 seconds, and a burst of questions must not
delay the acknowledgements queued behind it. The threads that acknowledge stay at normal
priority and only wait here; the CPU-heavy part of an answer (embedding, search, scoring) runs
on a small pool whose threads the kernel schedules after them (``nice``), so on a busy machine
acknowledgements come first and answers use the cores that are left.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

__all__ = ["ModelWork"]

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger(__name__)


def _lower_priority(nice: int) -> None:
    """Lower this thread's scheduling priority (Linux schedules threads one by one)."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except OSError:  # not permitted or not supported here: run at normal priority
        log.debug("could not lower the priority of the model threads", exc_info=True)


class ModelWork:
    """A bounded pool for model work; ``run`` waits for the result in the caller's thread."""

    def __init__(self, *, workers: int = 2, nice: int = 10) -> None:
        self.workers = workers
        self.nice = nice
        self._pool = ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix="model",
            initializer=_lower_priority,
            initargs=(nice,),
        )

    def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._pool.submit(fn, *args, **kwargs).result()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
