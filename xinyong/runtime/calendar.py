"""Working days for Python, read from the dbt seed dbt_project/seeds/working_days.csv, so
deadlines counted here and in the warehouse agree. The seed is written by
scripts/generate_working_days.py; a date outside it is an error, never a guess."""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import functools
from dataclasses import dataclass

from xinyong.runtime.config import PROJECT_ROOT

SEED = PROJECT_ROOT / "dbt_project" / "seeds" / "working_days.csv"


class CalendarError(ValueError):
    """A date the working-day calendar does not cover, stated in one sentence."""


@dataclass(frozen=True)
class Day:
    day: dt.date
    is_working_day: bool
    day_kind: str  # workday | weekend | holiday | adjusted_workday
    holiday_name: str  # the holiday a holiday or adjusted working day belongs to, else ""
    source: str  # state_council, or weekday_rule for a year not announced when the seed was written


@dataclass(frozen=True)
class _Calendar:
    days: dict[dt.date, Day]
    working: list[dt.date]  # sorted
    first: dt.date
    last: dt.date


@functools.cache
def _calendar() -> _Calendar:
    with SEED.open(encoding="utf-8", newline="") as f:
        days = {
            d.day: d
            for d in (
                Day(
                    dt.date.fromisoformat(row["day"]),
                    row["is_working_day"] == "true",
                    row["day_kind"],
                    row["holiday_name"],
                    row["source"],
                )
                for row in csv.DictReader(f)
            )
        }
    return _Calendar(
        days, sorted(d for d, entry in days.items() if entry.is_working_day), min(days), max(days)
    )


def _covered(day: dt.date) -> _Calendar:
    calendar = _calendar()
    if not calendar.first <= day <= calendar.last:
        raise CalendarError(
            f"{day} is outside the working-day calendar ({calendar.first} to {calendar.last}); "
            f"extend it with scripts/generate_working_days.py."
        )
    return calendar


def entry(day: dt.date) -> Day:
    """The seed's row for a day: its kind, holiday name and source."""
    return _covered(day).days[day]


def is_working_day(day: dt.date) -> bool:
    return entry(day).is_working_day


def add_working_days(day: dt.date, n: int) -> dt.date:
    """The n-th working day after `day` (n = 1: the next working day; negative n counts back;
    n = 0 returns `day` itself)."""
    calendar = _covered(day)
    if n == 0:
        return day
    # Index of the first working day after `day`, or of the last one before it.
    index = (
        bisect.bisect_right(calendar.working, day) + n - 1
        if n > 0
        else bisect.bisect_left(calendar.working, day) + n
    )
    if not 0 <= index < len(calendar.working):
        raise CalendarError(
            f"{abs(n)} working days {'after' if n > 0 else 'before'} {day} fall outside the "
            f"working-day calendar ({calendar.first} to {calendar.last}); extend it with "
            f"scripts/generate_working_days.py."
        )
    return calendar.working[index]


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after `start` up to and including `end` (negative when `end` is earlier). For a
    working day `end` after `start`, add_working_days(start, working_days_between(start, end)) is `end`."""
    calendar = _covered(start)
    _covered(end)
    if end < start:
        return -working_days_between(end, start)
    return bisect.bisect_right(calendar.working, end) - bisect.bisect_right(calendar.working, start)
