"""Model work (answers, pitfall checks) on a few low-priority threads, after the acks.

Slack wants every request acknowledged within 3 seconds, and a burst of questions must not
delay the acknowledgements queued behind it. Two things keep model work out of their way:
- the CPU: the work runs on a small pool whose threads the kernel schedules after the request
  threads (``nice``);
- the interpreter lock, which knows no priorities: while any request is being acknowledged
  (``acknowledging()``, entered by the HTTP gateway), a new piece of model work waits, for at
  most ``max_defer`` seconds. A burst is acknowledged first; its answers follow at once.
Listeners hand whole replies to ``background`` and return: a reply waiting for the model then
holds a thread of this module's reply pool, never one of the Bolt threads that run acks.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
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
        tid = threading.get_native_id()
        # Relative to where the thread starts (setpriority takes an absolute value).
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError:  # not permitted or not supported here: run at normal priority
        log.debug("could not lower the priority of the model threads", exc_info=True)


class ModelWork:
    """A bounded pool for model work; ``run`` waits for the result in the caller's thread."""

    def __init__(
        self,
        *,
        workers: int = 2,
        nice: int = 10,
        max_defer: float = 0.5,
        reply_workers: int = 16,
    ) -> None:
        self.workers = workers
        self.nice = nice
        self.max_defer = max_defer
        self._acknowledging = 0
        self._quiet = threading.Condition()
        self._pool = ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix="model",
            initializer=_lower_priority,
            initargs=(nice,),
        )
        # Replies: retrieve (waiting for a model thread), record, post. Mostly waiting.
        self._replies = ThreadPoolExecutor(max_workers=reply_workers, thread_name_prefix="reply")

    def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._pool.submit(self._after_acks, fn, *args, **kwargs).result()

    def background(self, fn: Callable[P, object], /, *args: P.args, **kwargs: P.kwargs) -> None:
        """Run a whole reply later on the reply pool; its exceptions are logged."""

        def logged() -> None:
            try:
                fn(*args, **kwargs)
            except Exception:
                log.exception("background reply failed")

        self._replies.submit(logged)

    @contextmanager
    def acknowledging(self) -> Iterator[None]:
        """Mark a request being acknowledged: model work starting meanwhile waits for it."""
        with self._quiet:
            self._acknowledging += 1
        try:
            yield
        finally:
            with self._quiet:
                self._acknowledging -= 1
                if not self._acknowledging:
                    self._quiet.notify_all()

    def _after_acks(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        deadline = time.monotonic() + self.max_defer
        with self._quiet:
            while self._acknowledging and (left := deadline - time.monotonic()) > 0:
                self._quiet.wait(left)
        return fn(*args, **kwargs)

    def shutdown(self) -> None:
        self._replies.shutdown(wait=False, cancel_futures=True)
        self._pool.shutdown(wait=False, cancel_futures=True)
