from __future__ import annotations

import os
import threading

import pytest

from bot.work import ModelWork


def test_model_work_runs_on_low_priority_threads_and_returns_results() -> None:
    work = ModelWork(workers=2, nice=7)
    try:

        def where() -> tuple[str, int]:
            tid = threading.get_native_id()
            return threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, tid)

        name, priority = work.run(where)
        assert name.startswith("model")
        assert priority == os.getpriority(os.PRIO_PROCESS, 0) + 7
        # The caller's own thread keeps its priority.
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < priority
        assert work.run(lambda a, *, b: a + b, 2, b=3) == 5
    finally:
        work.shutdown()


def test_model_work_raises_the_callers_error() -> None:
    work = ModelWork(workers=1, nice=0)
    try:
        with pytest.raises(ZeroDivisionError):
            work.run(lambda: 1 / 0)
        assert work.run(lambda: "still working") == "still working"
    finally:
        work.shutdown()
