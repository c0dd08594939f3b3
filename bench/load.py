"""Under load: a burst of 50 slash commands and 50 DMs against `mlbot serve --http`.

All 100 signed requests are released together (one thread each, behind a barrier) at the app
on 127.0.0.1, whose Web API is the recording FakeSlack. Measured: each request's HTTP response
time (the ack), the time from the burst until the last answer is posted, answers per second,
and that every request got exactly one answer: a DM one ``chat.postMessage`` in its channel,
``/ml-pitfalls TEXT`` one post to its ``response_url``, ``/ml-checklist`` its checklist in the
ack body. After the last answer a grace period catches late duplicates. Everything is bounded:
request timeouts, a deadline for the answers, joined threads.

Floor: the same kinds of request sent one at a time to the otherwise idle server (each answered
before the next is sent), after one warm-up request of each kind.

Then fairness: one member pastes twenty 8,000-character plans at once, and another member's DM
arrives just after. Measured: how long that DM waits for its answer (target under 3 s, against
the same DM on the idle server), and the server's resident memory before the plans and after
they are all answered.
"""

from __future__ import annotations

import http.client
import json
import random
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.cold import serve_env, start_server, stop_process
from bench.common import Stats, log

__all__ = ["LoadResult", "bench_load"]

CHECKLIST_TOPICS = ["hiring", "team-structure 120", "pipeline", "evaluation", "pitfalls"]


@dataclass
class _Request:
    kind: str  # "dm", "checklist" or "pitfalls"
    name: str  # the DM channel or the response_url name
    body: str
    content_type: str
    status: int = 0
    response: str = ""
    started: float = 0.0  # time.monotonic(), the clock FakeSlack stamps calls with
    seconds: float = float("nan")
    connect_seconds: float = float("nan")
    error: str = ""


@dataclass(frozen=True)
class LoadResult:
    requests: int
    dms: int
    checklists: int
    pitfalls: int
    ack: Stats
    connect: Stats
    idle_ack: Stats
    all_answered_seconds: float
    answers: int
    answers_per_second: float
    missing: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    bad_acks: list[str] = field(default_factory=list)
    fair: FairResult | None = None

    @property
    def ok(self) -> bool:
        return not (self.missing or self.duplicated or self.bad_acks)


@dataclass(frozen=True)
class FairResult:
    plans: int
    plan_chars: int
    dm_seconds: float  # the unrelated DM, from its send to its answer, during the plans
    idle_dm_seconds: float  # the same DM on the idle server
    plans_answered: int
    plans_seconds: float  # from the burst until the last plan's answer
    rss_before_mb: float
    rss_after_mb: float


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _answered_at(fake: Any, name: str, timeout: float) -> float:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        times = _answer_calls(fake, [_Request("dm", name, "", "")])[name]
        if times:
            return times[0]
        time.sleep(0.01)
    return float("nan")


def _fairness(fake: Any, url: str, pid: int, *, plans: int, timeout: float) -> FairResult:
    """Twenty long plans from one member, then another member's DM (see the module doc)."""
    from knowledge import load_labelled_messages
    from tests.slack_requests import FORM, command_body, dm, event_body

    run = uuid.uuid4().hex[:8].upper()  # Slack ids are upper-case (the edge checks)
    # A long, varied plan: the labelled messages one after another, cut at 8,000 characters.
    messages = " ".join(m.text for m in load_labelled_messages().messages)
    plan = (messages * (8000 // max(len(messages), 1) + 1))[:8000]
    question = "How should we evaluate a model before launch?"

    def the_dm(tag: str) -> _Request:
        channel = f"DF{run}{tag}"
        body = event_body(dm(question, user="UFAIRDM", channel=channel), event_id=f"EvF{run}{tag}")
        return _Request("dm", channel, body, "application/json")

    idle = the_dm("IDLE")
    _post(f"{url}/slack/events", idle, timeout)
    idle_seconds = _answered_at(fake, idle.name, timeout) - idle.started
    rss_before = _rss_mb(pid)
    burst = [
        _Request(
            "pitfalls",
            f"plan-{run}-{i:02d}",
            command_body(
                "/ml-pitfalls",
                plan,
                response_url=fake.response_url(f"plan-{run}-{i:02d}"),
                user="UFAIRPLANS",
                channel=f"CF{run}",
            ),
            FORM,
        )
        for i in range(plans)
    ]
    _release_together(url, burst, timeout)
    during = the_dm("BUSY")
    _post(f"{url}/slack/events", during, timeout)
    dm_seconds = _answered_at(fake, during.name, timeout) - during.started
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done = [t for t in _answer_calls(fake, burst).values() if t]
        if len(done) == len(burst):
            break
        time.sleep(0.05)
    done = [t for t in _answer_calls(fake, burst).values() if t]
    started = min((r.started for r in burst if r.started), default=time.monotonic())
    time.sleep(1.0)  # let the last replies' memory go
    return FairResult(
        plans=plans,
        plan_chars=len(plan),
        dm_seconds=dm_seconds,
        idle_dm_seconds=idle_seconds,
        plans_answered=len(done),
        plans_seconds=max((t[0] for t in done), default=started) - started,
        rss_before_mb=rss_before,
        rss_after_mb=_rss_mb(pid),
    )


def _requests(fake: Any, *, dms: int, commands: int, seed: int) -> list[_Request]:
    from bench.common import question_set
    from knowledge import load_labelled_messages
    from tests.slack_requests import FORM, command_body, dm, event_body

    run = uuid.uuid4().hex[:8].upper()  # Slack ids are upper-case (the edge checks)
    questions = question_set(max(dms, 1))
    plans = [m.text for m in load_labelled_messages().messages]
    out = []
    for i in range(dms):
        channel = f"DB{run}{i:03d}"
        event = dm(questions[i % len(questions)], user=f"UB{i:03d}", channel=channel)
        body = event_body(event, event_id=f"EvB{run}{i:03d}")
        out.append(_Request("dm", channel, body, "application/json"))
    for i in range(commands):
        kind = "checklist" if i % 2 == 0 else "pitfalls"
        name = f"{kind}-{run}-{i:03d}"
        text = (
            CHECKLIST_TOPICS[i % len(CHECKLIST_TOPICS)]
            if kind == "checklist"
            else plans[i % len(plans)]
        )
        body = command_body(
            f"/ml-{kind}",
            text,
            response_url=fake.response_url(name),
            user=f"UC{i:03d}",
            channel=f"CB{run}{i:03d}",
        )
        out.append(_Request(kind, name, body, FORM))
    random.Random(seed).shuffle(out)
    return out


def _post(url: str, request: _Request, timeout: float) -> None:
    """POST the signed body, timing the TCP connect apart from the whole exchange."""
    from tests.slack_requests import sign

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=timeout)
    try:
        request.started = time.monotonic()
        connection.connect()
        request.connect_seconds = time.monotonic() - request.started
        headers = {"Content-Type": request.content_type, **sign(request.body)}
        connection.request("POST", parts.path, body=request.body.encode(), headers=headers)
        response = connection.getresponse()
        request.response = response.read().decode(errors="replace")
        request.status = response.status
        request.seconds = time.monotonic() - request.started
    finally:
        connection.close()


def _send(url: str, request: _Request, barrier: threading.Barrier, timeout: float) -> None:
    try:
        barrier.wait(timeout=timeout)
    except threading.BrokenBarrierError:
        request.error = "barrier broken"
        return
    try:
        _post(url, request, timeout)
    except OSError as exc:
        request.error = f"{type(exc).__name__}: {exc}"


def _answer_calls(fake: Any, requests: list[_Request]) -> dict[str, list[float]]:
    """When each request's answer(s) arrived (monotonic), by request name."""
    wanted = {r.name for r in requests if r.kind != "checklist"}
    found: dict[str, list[float]] = {name: [] for name in wanted}
    for call in fake.calls():
        if call.method == "chat.postMessage":
            name = str(call.params.get("channel"))
        elif call.method.startswith("response_url:"):
            name = call.method.split(":", 1)[1]
        else:
            continue
        if name in found:
            found[name].append(call.at)
    return found


def _sequential(fake: Any, url: str, requests: list[_Request], timeout: float) -> list[float]:
    """One request at a time, each answered before the next is sent: ack times when idle (ms)."""
    times = []
    for request in requests:
        try:
            _post(f"{url}/slack/events", request, timeout)
        except OSError as exc:
            request.error = f"{type(exc).__name__}: {exc}"
            continue
        if request.status == 200:
            times.append(request.seconds * 1000)
        end = time.monotonic() + timeout
        while request.kind != "checklist" and time.monotonic() < end:
            if _answer_calls(fake, [request])[request.name]:
                break
            time.sleep(0.01)
    return times


def _release_together(url: str, requests: list[_Request], timeout: float) -> None:
    """Send every request at once (one thread each, behind a barrier) and wait for them."""
    barrier = threading.Barrier(len(requests))
    threads = [
        threading.Thread(target=_send, args=(f"{url}/slack/events", r, barrier, timeout))
        for r in requests
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout + 5)


def _run_burst(
    fake: Any, url: str, requests: list[_Request], *, deadline: float, timeout: float
) -> tuple[dict[str, list[float]], float]:
    _release_together(url, requests, timeout)
    # Only acknowledged requests can be answered: do not wait out the deadline for the others.
    expected = sum(r.kind != "checklist" and r.status == 200 for r in requests)
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        calls = _answer_calls(fake, requests)
        if sum(bool(times) for times in calls.values()) >= expected:
            break
        time.sleep(0.05)
    return _answer_calls(fake, requests), time.monotonic()


def bench_load(
    data_dir: Path,
    *,
    log_path: Path,
    dms: int = 50,
    commands: int = 50,
    deadline: float = 180,
    grace: float = 3,
    idle_rounds: int = 10,
    request_timeout: float = 60,
    seed: int = 3,
    plans: int = 20,
) -> LoadResult:
    from tests.fake_slack import FakeSlack

    fake = FakeSlack().start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
            cwd = Path(tmp)  # no stray .env is read
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.unlink(missing_ok=True)
            process, url, _ = start_server(serve_env(fake.api_url, data_dir), log_path, cwd=cwd)
            try:
                # Warm-up (one request of each kind), then the floor: the same kinds of request
                # sent one at a time to an otherwise idle server.
                _sequential(fake, url, _requests(fake, dms=1, commands=2, seed=seed), 60)
                idle = _requests(fake, dms=idle_rounds, commands=2 * idle_rounds, seed=seed)
                log(f"load: {len(idle)} requests one at a time (the idle floor)")
                idle_ack = Stats.of(_sequential(fake, url, idle, request_timeout))
                fake.reset()
                requests = _requests(fake, dms=dms, commands=commands, seed=seed)
                log(
                    f"load: releasing {len(requests)} requests at once ({dms} DMs, "
                    f"{commands} slash commands)"
                )
                calls, _ = _run_burst(
                    fake, url, requests, deadline=deadline, timeout=request_timeout
                )
                time.sleep(grace)
                calls = _answer_calls(fake, requests)
                log(f"load: {plans} pasted plans of 8,000 characters, then another member's DM")
                fair = _fairness(fake, url, process.pid, plans=plans, timeout=request_timeout)
            finally:
                stop_process(process)
    finally:
        fake.stop()
    return replace(_judge(requests, calls), idle_ack=idle_ack, fair=fair)


def _judge(requests: list[_Request], calls: dict[str, list[float]]) -> LoadResult:
    starts = [r.started for r in requests if r.started]
    burst_start = min(starts) if starts else time.monotonic()
    done_at: list[float] = []
    missing, duplicated, bad_acks = [], [], []
    for request in requests:
        if request.error or request.status != 200:
            bad_acks.append(f"{request.name}: {request.error or request.status}")
            continue
        if request.kind == "checklist":
            try:
                ack = json.loads(request.response)
            except ValueError:
                ack = {}
            if not ack.get("blocks"):
                missing.append(f"{request.name}: no checklist in the ack")
            else:
                done_at.append(request.started + request.seconds)
            continue
        times = calls.get(request.name, [])
        if not times:
            missing.append(request.name)
        elif len(times) > 1:
            duplicated.append(f"{request.name} x{len(times)}")
        done_at.extend(times[:1])
    elapsed = (max(done_at) - burst_start) if done_at else float("nan")
    kinds = Counter(r.kind for r in requests)
    return LoadResult(
        requests=len(requests),
        dms=kinds["dm"],
        checklists=kinds["checklist"],
        pitfalls=kinds["pitfalls"],
        ack=Stats.of([r.seconds * 1000 for r in requests if r.status == 200]),
        connect=Stats.of([r.connect_seconds * 1000 for r in requests if r.status == 200]),
        idle_ack=Stats.of([]),
        all_answered_seconds=elapsed,
        answers=len(done_at),
        answers_per_second=len(done_at) / elapsed if done_at and elapsed > 0 else 0.0,
        missing=missing,
        duplicated=duplicated,
        bad_acks=bad_acks,
    )
