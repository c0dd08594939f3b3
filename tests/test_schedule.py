"""Digest schedules across time zones and daylight-saving changes; the pitfall rotation."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.digests import Schedule, ScheduleError, next_watch, parse_at, period_key
from knowledge import load_pitfalls

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(UTC)


def test_daily_runs_at_local_time() -> None:
    s = Schedule(cadence="daily", at_time="09:00", tz="America/New_York")
    # 2026-11-28 13:00 UTC is 08:00 in New York: today's run has not happened yet.
    assert s.latest_run(at("2026-11-28T13:00:00+00:00")) == at("2026-11-27T09:00:00-05:00")
    assert s.latest_run(at("2026-11-28T14:00:00+00:00")) == at("2026-11-28T09:00:00-05:00")
    assert s.next_run(at("2026-11-28T14:00:00+00:00")) == at("2026-11-29T09:00:00-05:00")


def test_weekly_runs_on_monday_in_the_subscribers_zone() -> None:
    s = Schedule(cadence="weekly", at_time="09:00", tz="Asia/Tokyo")
    # Monday 2026-11-30 09:00 Tokyo is Monday 00:00 UTC; on Sunday evening UTC it is already due.
    assert s.latest_run(at("2026-11-30T00:30:00+00:00")) == at("2026-11-30T09:00:00+09:00")
    assert s.latest_run(at("2026-11-29T23:30:00+00:00")) == at("2026-11-23T09:00:00+09:00")
    assert s.previous_run(at("2026-11-30T09:00:00+09:00")) == at("2026-11-23T09:00:00+09:00")
    assert s.describe() == "every Monday at 09:00 (Asia/Tokyo)"


def test_local_time_holds_across_dst_and_periods_stretch() -> None:
    s = Schedule(cadence="daily", at_time="09:00", tz="Europe/Berlin")
    before = s.latest_run(at("2026-03-28T12:00:00+00:00"))  # CET, UTC+1
    after = s.latest_run(at("2026-03-29T12:00:00+00:00"))  # CEST, UTC+2 since 02:00 that night
    assert before.hour == 8 and after.hour == 7
    assert after - s.previous_run(after) == dt.timedelta(hours=23)
    autumn = s.latest_run(at("2026-10-25T12:00:00+00:00"))
    assert autumn - s.previous_run(autumn) == dt.timedelta(hours=25)


def test_times_in_a_dst_gap_or_fold_still_run_once_a_day() -> None:
    s = Schedule(cadence="daily", at_time="02:30", tz="Europe/Berlin")
    keys = set()
    for hour in range(0, 24 * 4, 3):  # 2026-03-27 .. 2026-03-31, through the spring gap
        keys.add(
            period_key(s.latest_run(at("2026-03-27T00:00:00+00:00") + dt.timedelta(hours=hour)))
        )
    assert len(keys) == 5  # one run per day, the gap day included
    fall = set()
    for hour in range(0, 24 * 4, 1):  # through the October fold
        fall.add(
            period_key(s.latest_run(at("2026-10-23T12:00:00+00:00") + dt.timedelta(hours=hour)))
        )
    assert len(fall) == 5


def test_bad_schedules_are_explained() -> None:
    assert parse_at("9:05") == "09:05"
    for value in ("25:00", "noon", "9"):
        with pytest.raises(ScheduleError, match="time of day"):
            parse_at(value)
    with pytest.raises(ScheduleError, match="time zone"):
        Schedule(cadence="daily", at_time="09:00", tz="Mars/Olympus")
    with pytest.raises(ScheduleError, match="daily, weekly"):
        Schedule(cadence="hourly", at_time="09:00", tz="UTC")


def test_rotation_shows_every_pitfall_before_repeating() -> None:
    catalogue = load_pitfalls()
    shown: list[str] = []
    seen = []
    for _ in range(len(catalogue.pitfalls)):
        pitfall, shown = next_watch(catalogue, shown, set())
        seen.append(pitfall.id)
    assert sorted(seen) == sorted(p.id for p in catalogue.pitfalls)
    again, shown = next_watch(catalogue, shown, set())
    assert shown == [again.id]


def test_rotation_prefers_a_pitfall_not_just_spotted() -> None:
    catalogue = load_pitfalls()
    first = catalogue.pitfalls[0].id
    pitfall, _ = next_watch(catalogue, [], {first})
    assert pitfall.id != first
