"""The working-day calendar: the seed, the script that writes it, and the Python reading it."""

import datetime as dt
import subprocess
import sys

import chinese_calendar
import pytest

from xinyong.runtime import calendar
from xinyong.runtime.config import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "generate_working_days.py"
D = dt.date


def _all_days():
    return sorted(calendar._calendar().days)


def test_the_committed_seed_is_what_the_script_writes(tmp_path):
    out = tmp_path / "working_days.csv"
    subprocess.run([sys.executable, SCRIPT, "--output", out], check=True, capture_output=True)
    assert calendar.SEED.read_text(encoding="utf-8") == out.read_text(encoding="utf-8"), (
        "dbt_project/seeds/working_days.csv is stale: run scripts/generate_working_days.py and commit it"
    )


def test_every_announced_day_agrees_with_chinese_calendar():
    announced = [d for d in _all_days() if calendar.entry(d).source == "state_council"]
    assert {d.year for d in announced} >= {2025, 2026}
    for day in announced:
        assert calendar.is_working_day(day) == chinese_calendar.is_workday(day), day
        assert (calendar.entry(day).day_kind == "adjusted_workday") == (
            day.weekday() >= 5 and chinese_calendar.is_workday(day)
        ), day


def test_a_year_not_announced_follows_the_weekday_rule_and_says_so():
    days = [d for d in _all_days() if d.year == 2027]
    with pytest.raises(NotImplementedError):  # if this fails, the library now has 2027: regenerate the seed
        chinese_calendar.is_workday(D(2027, 1, 4))
    assert len(days) == 365
    assert {calendar.entry(d).source for d in days} == {"weekday_rule"}
    assert all(calendar.is_working_day(d) == (d.weekday() < 5) for d in days)
    assert (
        calendar.entry(D(2027, 10, 1)).day_kind == "workday"
    )  # National Day 2027, a Friday, not yet announced


def test_national_day_2026():
    for day in range(1, 8):
        entry = calendar.entry(D(2026, 10, day))
        assert (entry.day_kind, entry.holiday_name, entry.is_working_day) == ("holiday", "国庆节", False)
    saturday = calendar.entry(D(2026, 10, 10))  # made up for the Golden Week
    assert D(2026, 10, 10).weekday() == 5
    assert (saturday.day_kind, saturday.holiday_name, saturday.is_working_day) == (
        "adjusted_workday",
        "国庆节",
        True,
    )
    assert calendar.entry(D(2026, 10, 11)).day_kind == "weekend"


def test_adding_working_days_skips_the_holiday_and_counts_the_adjusted_saturday():
    assert calendar.add_working_days(D(2026, 9, 30), 1) == D(2026, 10, 8)
    assert calendar.add_working_days(D(2026, 9, 30), 3) == D(2026, 10, 10)
    assert calendar.add_working_days(D(2026, 10, 3), 1) == D(2026, 10, 8)  # from inside the holiday
    assert calendar.add_working_days(D(2026, 10, 8), -1) == D(2026, 9, 30)
    assert calendar.add_working_days(D(2026, 10, 3), 0) == D(2026, 10, 3)
    assert calendar.working_days_between(D(2026, 9, 30), D(2026, 10, 10)) == 3
    assert calendar.working_days_between(D(2026, 10, 10), D(2026, 9, 30)) == -3
    assert calendar.working_days_between(D(2026, 10, 1), D(2026, 10, 7)) == 0
    start = D(2025, 12, 20)
    for n in (1, 5, 20, 250):
        assert calendar.working_days_between(start, calendar.add_working_days(start, n)) == n


def test_dates_outside_the_seed_are_an_error_not_a_guess():
    with pytest.raises(calendar.CalendarError, match="2028-01-03 is outside the working-day calendar"):
        calendar.is_working_day(D(2028, 1, 3))
    with pytest.raises(calendar.CalendarError, match="outside the working-day calendar"):
        calendar.add_working_days(D(2027, 12, 30), 5)
    with pytest.raises(calendar.CalendarError):
        calendar.working_days_between(D(2024, 12, 31), D(2025, 1, 10))
