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
        assert priority == min(os.getpriority(os.PRIO_PROCESS, 0) + 7, 19)
        # The caller's own thread keeps its priority.
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == os.getpriority(
            os.PRIO_PROCESS, 0
        )
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


def test_model_work_waits_for_requests_being_acknowledged() -> None:
    import time

    work = ModelWork(workers=1, nice=0, max_defer=5)
    results: list[float] = []
    try:
        runner = threading.Thread(target=lambda: results.append(work.run(time.monotonic)))
        with work.acknowledging():
            runner.start()
            time.sleep(0.3)
            assert not results  # held back while a request is being acknowledged
            released = time.monotonic()
        runner.join(5)
        assert results and results[0] >= released
    finally:
        work.shutdown()


def test_model_work_is_deferred_at_most_max_defer() -> None:
    import time

    work = ModelWork(workers=1, nice=0, max_defer=0.2)
    try:
        with work.acknowledging():
            started = time.monotonic()
            assert work.run(lambda: "done") == "done"
            assert 0.15 <= time.monotonic() - started < 2
    finally:
        work.shutdown()


def test_background_replies_run_and_their_failures_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    done = threading.Event()
    work = ModelWork(workers=1, nice=0, reply_workers=1)  # one at a time, in order
    try:
        work.background(lambda: 1 / 0)
        work.background(done.set)
        assert done.wait(5)
    finally:
        work.shutdown()
    assert "background reply failed" in caplog.text
