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


def test_one_members_burst_does_not_hold_up_another_members_question() -> None:
    work = ModelWork(workers=1, nice=0, reply_workers=1)
    gate = threading.Event()
    order: list[str] = []
    finished = threading.Event()
    try:
        # Alice pastes six long plans; the first holds the only thread until the gate opens.
        started = threading.Event()
        work.background(
            lambda: (started.set(), gate.wait(5), order.append("alice-0")),
            owner="T:alice",
            cost=8,
        )
        assert started.wait(5)
        for n in range(1, 6):
            work.background(lambda n=n: order.append(f"alice-{n}"), owner="T:alice", cost=8)
        # Bob's short question arrives last, and goes next.
        work.background(lambda: order.append("bob"), owner="T:bob", cost=1)
        work.background(finished.set, owner="T:alice", cost=8)
        gate.set()
        assert finished.wait(5)
        assert order == ["alice-0", "bob", "alice-1", "alice-2", "alice-3", "alice-4", "alice-5"]
    finally:
        work.shutdown()


def test_among_equals_small_work_goes_first_and_model_work_keeps_its_owners_place() -> None:
    work = ModelWork(workers=1, nice=0, reply_workers=4)
    gate = threading.Event()
    order: list[str] = []
    try:
        # The model thread is busy; three members' work queues behind it.
        blocker = threading.Thread(target=lambda: work.run(gate.wait, 5))
        blocker.start()
        import time

        time.sleep(0.2)
        done = [threading.Event() for _ in range(3)]
        for name, cost, event in (("big", 8, done[0]), ("mid", 3, done[1]), ("small", 1, done[2])):

            def reply(name: str = name, event: threading.Event = event) -> None:
                work.run(order.append, name)
                event.set()

            work.background(reply, owner=f"T:{name}", cost=cost)
        time.sleep(0.3)  # all three are waiting for the model thread
        gate.set()
        assert all(event.wait(5) for event in done)
        assert order == ["small", "mid", "big"]
        blocker.join(5)
    finally:
        work.shutdown()


def test_shutting_down_cancels_queued_work() -> None:
    from bot.work import FairPool

    pool = FairPool(1, name="t")
    gate, started = threading.Event(), threading.Event()
    running = pool.submit(lambda: (started.set(), gate.wait(5))[1])
    assert started.wait(5)
    queued = pool.submit(lambda: "never")
    pool.shutdown()
    gate.set()
    assert running.result(5) is True
    assert queued.cancelled()
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)
