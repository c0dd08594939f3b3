"""Channel digests of pitfalls: schedules (time zones, DST), composition and exactly-once ticks.

Nothing here renders Slack blocks (bot/slack/blocks.py does), registers listeners or holds a
Slack type: a workspace is reached through the :class:`Channels` handed in.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.pitfalls import PitfallDetector
from bot.store import DigestSubscription, Storage, as_utc
from knowledge.schema import Pitfall, Pitfalls, SourceQuote

__all__ = [
    "CADENCES",
    "Digest",
    "DigestService",
    "Schedule",
    "ScheduleError",
    "SpottedPitfall",
    "TickReport",
    "next_watch",
    "parse_at",
]

CADENCES = ("daily", "weekly")
DEFAULT_CADENCE = "weekly"
DEFAULT_AT = "09:00"
DEFAULT_WEEKDAY = 0  # Monday
MAX_HISTORY_MESSAGES = 5000
# A pitfall counts in a digest only at this confidence (digests should be low-noise).
DIGEST_MIN_SCORE = 0.5

log = logging.getLogger(__name__)


class Channels(Protocol):
    """What digests need of a workspace (``bot.slack.channels.SlackChannels`` in Slack)."""

    def user_tz(self, user_id: str) -> str | None: ...

    def history(
        self, channel_id: str, *, oldest: dt.datetime, latest: dt.datetime
    ) -> Iterator[list[dict[str, Any]]]: ...

    def permalink(self, channel_id: str, ts: str) -> str | None: ...

    def post(self, channel_id: str, message: dict[str, Any]) -> str: ...


class ScheduleError(ValueError):
    """A schedule cannot be understood; the message says what is expected."""


def parse_at(value: str) -> str:
    """``"9:30"`` -> ``"09:30"``; anything that is not a clock time raises ScheduleError."""
    try:
        hours, minutes = value.strip().split(":")
        parsed = dt.time(int(hours), int(minutes))
    except ValueError:
        raise ScheduleError(f"{value!r} is not a time of day like 09:00") from None
    return parsed.strftime("%H:%M")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"{name!r} is not a time zone like Europe/Berlin") from None


@dataclass(frozen=True)
class Schedule:
    """When digests go out: every day, or every week on ``weekday``, at a local wall-clock time."""

    cadence: str
    at_time: str
    tz: str
    weekday: int = DEFAULT_WEEKDAY

    def __post_init__(self) -> None:
        if self.cadence not in CADENCES:
            raise ScheduleError(f"{self.cadence!r} is not one of: daily, weekly")
        parse_at(self.at_time)
        zone(self.tz)

    @classmethod
    def of(cls, sub: DigestSubscription) -> Schedule:
        return cls(cadence=sub.cadence, at_time=sub.at_time, tz=sub.tz, weekday=sub.weekday)

    def _run_on(self, day: dt.date) -> dt.datetime:
        # Local wall-clock time; zoneinfo resolves DST gaps and folds (fold=0: the first).
        hours, minutes = map(int, self.at_time.split(":"))
        local = dt.datetime.combine(day, dt.time(hours, minutes), tzinfo=zone(self.tz))
        return local.astimezone(dt.UTC)

    @property
    def _step(self) -> int:
        return 1 if self.cadence == "daily" else 7

    @property
    def period(self) -> dt.timedelta:
        return dt.timedelta(days=self._step)

    def latest_run(self, now: dt.datetime) -> dt.datetime:
        """The most recent scheduled instant at or before ``now`` (UTC)."""
        day = now.astimezone(zone(self.tz)).date()
        if self.cadence == "weekly":
            day -= dt.timedelta(days=(day.weekday() - self.weekday) % 7)
        run = self._run_on(day)
        if run > now:
            run = self._run_on(day - dt.timedelta(days=self._step))
        return run

    def previous_run(self, run: dt.datetime) -> dt.datetime:
        day = run.astimezone(zone(self.tz)).date() - dt.timedelta(days=self._step)
        return self._run_on(day)

    def next_run(self, now: dt.datetime) -> dt.datetime:
        day = self.latest_run(now).astimezone(zone(self.tz)).date()
        return self._run_on(day + dt.timedelta(days=self._step))

    def describe(self) -> str:
        days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
        when = "every day" if self.cadence == "daily" else f"every {days[self.weekday]}"
        return f"{when} at {self.at_time} ({self.tz})"


_PERIOD_KEY_FORMAT = "%Y-%m-%dT%H:%MZ"


def period_key(end: dt.datetime) -> str:
    return end.astimezone(dt.UTC).strftime(_PERIOD_KEY_FORMAT)


def period_end(key: str) -> dt.datetime:
    """The inverse of :func:`period_key`."""
    return dt.datetime.strptime(key, _PERIOD_KEY_FORMAT).replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class SpottedPitfall:
    pitfall: Pitfall
    count: int
    example_ts: str
    permalink: str | None
    # The advice that best counters the example (the clearest match).
    advice: SourceQuote


@dataclass(frozen=True)
class Digest:
    channel_id: str
    start: dt.datetime
    end: dt.datetime
    messages_read: int
    spotted: tuple[SpottedPitfall, ...]
    watch: Pitfall
    shown_after: tuple[str, ...]

    @property
    def review_question(self) -> str:
        return self.watch.review_question


def next_watch(
    catalogue: Pitfalls, shown: list[str], spotted: set[str]
) -> tuple[Pitfall, list[str]]:
    """The next "pitfall to watch": none repeats until every one has been shown."""
    known = {p.id for p in catalogue.pitfalls}
    shown = [pid for pid in shown if pid in known]
    remaining = [p for p in catalogue.pitfalls if p.id not in shown]
    if not remaining:
        shown, remaining = [], list(catalogue.pitfalls)
    # Prefer one the channel did not just hear about in the spotted section.
    choice = next((p for p in remaining if p.id not in spotted), remaining[0])
    return choice, [*shown, choice.id]


@dataclass
class TickReport:
    posted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class DigestService:
    """Subscriptions, previews and scheduler passes; shared by Slack commands and the CLI."""

    def __init__(
        self,
        *,
        storage: Storage,
        clients: Callable[[str], Channels | None],
        catalogue: Pitfalls,
        detector: Callable[[], PitfallDetector],
        render: Callable[[Digest], dict[str, Any]],
        lease: dt.timedelta = dt.timedelta(minutes=5),
        worker_id: str | None = None,
        bot_user_id: str | None = None,
    ) -> None:
        self.storage = storage
        # A workspace's channels (through its own bot token), or None where the bot is not
        # installed any more: its digests are skipped.
        self.clients = clients
        self.catalogue = catalogue
        self._detector_factory = detector
        self._detector: PitfallDetector | None = None
        self.render = render
        self.lease = lease
        self.worker_id = worker_id or default_worker_id()
        self.bot_user_id = bot_user_id

    @property
    def detector(self) -> PitfallDetector:
        # Loading the model is the slow part of a tick: only pay for it when a digest is due.
        if self._detector is None:
            self._detector = self._detector_factory()
        return self._detector

    # subscriptions ---------------------------------------------------------------------------
    def subscribe(
        self,
        *,
        team_id: str,
        channel_id: str,
        user_id: str,
        cadence: str = DEFAULT_CADENCE,
        at_time: str = DEFAULT_AT,
        tz: str = "UTC",
        now: dt.datetime | None = None,
    ) -> tuple[DigestSubscription, Schedule]:
        schedule = Schedule(cadence=cadence, at_time=parse_at(at_time), tz=tz)
        sub = self.storage.digests.upsert_subscription(
            team_id=team_id,
            channel_id=channel_id,
            cadence=schedule.cadence,
            at_time=schedule.at_time,
            weekday=schedule.weekday,
            tz=schedule.tz,
            created_by=user_id,
            now=now or dt.datetime.now(dt.UTC),
        )
        return sub, schedule

    @staticmethod
    def user_tz(user_id: str, *, channels: Channels) -> str:
        """The person's Slack time zone, or UTC when Slack does not say (or says nonsense)."""
        tz = channels.user_tz(user_id)
        try:
            return zone(tz).key if tz else "UTC"
        except ScheduleError:
            return "UTC"

    # composition ------------------------------------------------------------------------------
    def fetch_messages(
        self, channel_id: str, *, oldest: dt.datetime, latest: dt.datetime, channels: Channels
    ) -> list[dict[str, Any]]:
        """People's messages in the window (no bots, joins or edits; at most 5,000)."""
        messages: list[dict[str, Any]] = []
        for page in channels.history(channel_id, oldest=oldest, latest=latest):
            for message in page:
                if message.get("bot_id") or message.get("subtype") not in (
                    None,
                    "thread_broadcast",
                    "file_share",
                ):
                    continue
                if not message.get("user") or message.get("user") == self.bot_user_id:
                    continue
                if str(message.get("text", "")).strip():
                    messages.append(message)
            if len(messages) >= MAX_HISTORY_MESSAGES:
                break
        return messages

    def compose(
        self,
        sub: DigestSubscription,
        *,
        start: dt.datetime,
        end: dt.datetime,
        channels: Channels,
    ) -> Digest:
        messages = self.fetch_messages(sub.channel_id, oldest=start, latest=end, channels=channels)
        found = (
            self.detector.score_many([str(m.get("text", "")) for m in messages]) if messages else []
        )
        tally: dict[str, list[tuple[float, str, SourceQuote]]] = {}
        for message, matches in zip(messages, found, strict=True):
            for match in matches:
                if match.score >= DIGEST_MIN_SCORE:
                    tally.setdefault(match.pitfall.id, []).append(
                        (match.score, str(message["ts"]), match.best_advice)
                    )
        spotted = []
        for pitfall in self.catalogue.pitfalls:
            hits = tally.get(pitfall.id)
            if not hits:
                continue
            _, example_ts, advice = max(hits, key=lambda hit: (hit[0], hit[1]))
            spotted.append(
                SpottedPitfall(
                    pitfall,
                    len(hits),
                    example_ts,
                    channels.permalink(sub.channel_id, example_ts),
                    advice,
                )
            )
        spotted.sort(key=lambda s: -s.count)
        watch, shown_after = next_watch(
            self.catalogue, json.loads(sub.shown_pitfalls or "[]"), {s.pitfall.id for s in spotted}
        )
        return Digest(
            channel_id=sub.channel_id,
            start=start,
            end=end,
            messages_read=len(messages),
            spotted=tuple(spotted),
            watch=watch,
            shown_after=tuple(shown_after),
        )

    def preview(
        self,
        *,
        team_id: str,
        channel_id: str,
        channels: Channels,
        now: dt.datetime | None = None,
    ) -> Digest:
        """What the digest would say now: since the last digest (or one period back); records
        nothing, and the rotation does not advance."""
        now = now or dt.datetime.now(dt.UTC)
        sub = self.storage.digests.subscription(team_id=team_id, channel_id=channel_id)
        if sub is None or not sub.active:
            sub = DigestSubscription(
                team_id=team_id,
                channel_id=channel_id,
                cadence=DEFAULT_CADENCE,
                at_time=DEFAULT_AT,
                weekday=DEFAULT_WEEKDAY,
                tz="UTC",
                shown_pitfalls="[]",
            )
            last = None
        else:
            last = self.storage.digests.last_posted(sub.id)
        start = now - Schedule.of(sub).period
        if last is not None:
            start = period_end(last.period_key)
        return self.compose(sub, start=start, end=now, channels=channels)

    # the scheduler ----------------------------------------------------------------------------
    def due_period(
        self, sub: DigestSubscription, now: dt.datetime
    ) -> tuple[dt.datetime, dt.datetime] | None:
        """(start, end) of the period to post now, or None. Missed older periods are skipped:
        after downtime a channel gets one digest, not a backlog."""
        schedule = Schedule.of(sub)
        end = schedule.latest_run(now)
        if end < as_utc(sub.created_at):
            return None
        return schedule.previous_run(end), end

    def tick(self, *, now: dt.datetime | None = None) -> TickReport:
        """One scheduler pass: post every due digest that nobody has posted for its period."""
        now = now or dt.datetime.now(dt.UTC)
        report = TickReport()
        for sub in self.storage.digests.active_subscriptions():
            period = self.due_period(sub, now)
            if period is None:
                continue
            start, end = period
            channels = self.clients(sub.team_id)
            if channels is None:
                # Uninstalled (its subscriptions are stopped then) or never installed here.
                log.info("digest for %s skipped: no installation for its workspace", sub.channel_id)
                report.skipped.append(sub.channel_id)
                continue
            key = period_key(end)
            done = self.storage.digests.delivery(sub.id, key)
            if done is not None and done.status == "posted":
                report.skipped.append(sub.channel_id)
                continue
            delivery_id = self.storage.digests.claim_delivery(
                team_id=sub.team_id,
                subscription_id=sub.id,
                period_key=key,
                worker=self.worker_id,
                now=now,
                lease=self.lease,
            )
            if delivery_id is None:
                report.skipped.append(sub.channel_id)
                continue
            try:
                digest = self.compose(sub, start=start, end=end, channels=channels)
                ts = channels.post(sub.channel_id, self.render(digest))
            except Exception:
                # The claim stays until its lease ends; the next tick after that tries again.
                log.exception("digest for %s failed", sub.channel_id)
                report.failed.append(sub.channel_id)
                continue
            completed = self.storage.digests.complete_delivery(
                delivery_id=delivery_id,
                worker=self.worker_id,
                message_ts=ts,
                shown_pitfalls=list(digest.shown_after),
                now=dt.datetime.now(dt.UTC),
            )
            if not completed:
                log.warning("digest for %s posted after its claim was taken over", sub.channel_id)
            report.posted.append(sub.channel_id)
        return report
