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

Both pools are fair rather than first come, first served. Each piece of work names who it is
for (``owner``, a workspace and member) and what it costs (about a unit per 1,000 characters).
It is ranked by how much of its owner's work was already waiting or running when it arrived,
then by cost: one member's burst of twenty pasted plans queues behind itself, and another
member's question goes next. Work on a big input hands its memory back to the system after.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import heapq
import itertools
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

__all__ = ["FairPool", "ModelWork", "cost_of"]

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


# Work this costly (about 4,000 characters of input) gives its memory back when it is done.
BIG_COST = 4
# Replies of one member that run at once (the rest of a burst waits its turn).
REPLIES_PER_OWNER = 2
# Texts per slice of a long input's encoding (about a quarter of a second of model time).
SLICE = 16
_current = threading.local()  # the owner and cost of the reply a thread is working on


def cost_of(text: str) -> int:
    """A piece of work's cost: one unit, plus one per 1,000 characters of input."""
    return 1 + len(text) // 1000


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, looked up once (find_library may run ldconfig); None elsewhere."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return None
    try:
        return ctypes.CDLL(libc_name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def _release_memory() -> None:
    """Collect, then ask the C allocator to return freed pages (glibc only)."""
    gc.collect()
    if (trim := _malloc_trim()) is not None:
        trim(0)


class FairPool:
    """A fixed set of threads serving queued work fairly across owners (see the module doc)."""

    def __init__(
        self,
        workers: int,
        *,
        name: str,
        initializer: Callable[[], None] | None = None,
        per_owner: int | None = None,
    ) -> None:
        """``per_owner``: at most this many of one owner's pieces of work run at once (the
        rest wait, and other owners' work takes the free threads)."""
        self._per_owner = per_owner
        self._running: Counter[str] = Counter()
        self._ready = threading.Condition()
        self._queue: list[tuple[int, int, int, str, Callable[[], Any], Future[Any]]] = []
        self._load: Counter[str] = Counter()  # each owner's work, queued or running
        self._order = itertools.count()
        self._closed = False
        self._initializer = initializer
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}_{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[[], T], *, owner: str = "", cost: int = 1) -> Future[T]:
        future: Future[T] = Future()
        with self._ready:
            if self._closed:
                raise RuntimeError("the pool is shut down")
            rank = self._load[owner]
            self._load[owner] += 1
            heapq.heappush(self._queue, (rank, cost, next(self._order), owner, fn, future))
            self._ready.notify()
        return future

    def _serve(self) -> None:
        if self._initializer is not None:
            self._initializer()
        while True:
            with self._ready:
                while not (picked := self._pick()) and not self._closed:
                    self._ready.wait()
                if not picked:
                    return
                _, cost, _, owner, fn, future = picked
                self._running[owner] += 1
            try:
                if future.set_running_or_notify_cancel():
                    _current.owner, _current.cost = owner, cost
                    try:
                        future.set_result(fn())
                    except BaseException as exc:  # the caller gets it from the future
                        future.set_exception(exc)
                    finally:
                        _current.owner, _current.cost = "", 1
                        del fn
                        if cost >= BIG_COST:
                            _release_memory()
            finally:
                with self._ready:
                    self._load[owner] -= 1
                    if not self._load[owner]:
                        del self._load[owner]
                    self._running[owner] -= 1
                    if not self._running[owner]:
                        del self._running[owner]
                    self._ready.notify_all()  # an owner at its limit may go on now

    def _pick(self) -> tuple[int, int, int, str, Callable[[], Any], Future[Any]] | None:
        """The first queued piece of work whose owner is below its limit (lock held)."""
        skipped = []
        picked = None
        while self._queue:
            item = heapq.heappop(self._queue)
            owner = item[3]
            if self._per_owner is None or not owner or self._running[owner] < self._per_owner:
                picked = item
                break
            skipped.append(item)
        for item in skipped:
            heapq.heappush(self._queue, item)
        return picked

    def shutdown(self) -> None:
        """Stop taking work and cancel what is still queued (running work finishes)."""
        with self._ready:
            self._closed = True
            queued, self._queue = self._queue, []
            for _, _, _, owner, _, future in queued:
                future.cancel()
                self._load[owner] -= 1
            self._ready.notify_all()


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
        self._pool = FairPool(workers, name="model", initializer=lambda: _lower_priority(nice))
        # Replies: retrieve (waiting for a model thread), record, post. Mostly waiting.
        # One member's replies take at most REPLIES_PER_OWNER of these threads: a burst of
        # long pasted plans leaves the rest free for everyone else.
        self._replies = FairPool(reply_workers, name="reply", per_owner=REPLIES_PER_OWNER)

    def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run model work and wait for it; it is queued as the reply it serves (its owner and
        cost) when called from one."""
        owner, cost = getattr(_current, "owner", ""), getattr(_current, "cost", 1)
        return self._pool.submit(
            lambda: self._after_acks(fn, *args, **kwargs), owner=owner, cost=cost
        ).result()

    def background(
        self,
        fn: Callable[..., object],
        /,
        *args: Any,
        owner: str = "",
        cost: int = 1,
        **kwargs: Any,
    ) -> None:
        """Run a whole reply later on the reply pool, fairly among owners; its exceptions are
        logged."""

        def logged() -> None:
            try:
                fn(*args, **kwargs)
            except Exception:
                log.exception("background reply failed")

        self._replies.submit(logged, owner=owner, cost=cost)

    def encode_in_slices(
        self, encode: Callable[[list[str]], Any], texts: list[str], *, size: int = SLICE
    ) -> Any:
        """``encode(texts)`` as model work of ``size`` texts at a time, so a long input (a
        pasted plan is a hundred sentences) holds a model thread for a slice at a time, and
        other members' work is served between its slices."""
        import numpy as np

        if len(texts) <= size:
            return self.run(encode, texts)
        parts = [self.run(encode, texts[i : i + size]) for i in range(0, len(texts), size)]
        return np.concatenate(parts)

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
        self._replies.shutdown()
        self._pool.shutdown()
