"""Write the working-day calendar, dbt_project/seeds/working_days.csv, from `chinese-calendar`.

`chinese-calendar` carries the holidays and adjusted working days the State Council
announces each year (usually in November for the next year). A year it does not cover yet
is written by the weekday rule (Monday to Friday work) and flagged `source = weekday_rule`,
so everything reading the seed can tell a guess from an announcement. Regenerate after
upgrading the library:

    pip install --upgrade chinese-calendar
    python scripts/generate_working_days.py            # 2025 through 2027
    python scripts/generate_working_days.py --last-year 2028

tests/unit/test_working_days.py fails while the committed seed differs from what this writes.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import sys
from pathlib import Path

import chinese_calendar

SEED = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds" / "working_days.csv"
FIRST_YEAR, LAST_YEAR = 2025, 2027
COLUMNS = ("day", "is_working_day", "day_kind", "holiday_name", "source")


def day_row(day: dt.date) -> dict[str, str]:
    weekend = day.weekday() >= 5
    try:
        # (True, name) on a holiday, (False, name) on a working day moved for one, else (weekend, None).
        is_off, holiday = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:  # the library has no announcement for this year yet
        return {
            "day": day.isoformat(),
            "is_working_day": str(not weekend).lower(),
            "day_kind": "weekend" if weekend else "workday",
            "holiday_name": "",
            "source": "weekday_rule",
        }
    if holiday is None:
        kind = "weekend" if is_off else "workday"
    else:
        kind = "holiday" if is_off else "adjusted_workday"
    return {
        "day": day.isoformat(),
        "is_working_day": str(not is_off).lower(),
        "day_kind": kind,
        "holiday_name": chinese_calendar.Holiday(holiday).chinese if holiday else "",
        "source": "state_council",
    }


def seed_text(first_year: int = FIRST_YEAR, last_year: int = LAST_YEAR) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    day = dt.date(first_year, 1, 1)
    while day.year <= last_year:
        writer.writerow(day_row(day))
        day += dt.timedelta(days=1)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first-year", type=int, default=FIRST_YEAR)
    parser.add_argument("--last-year", type=int, default=LAST_YEAR)
    parser.add_argument("--output", type=Path, default=SEED, help="default: %(default)s")
    args = parser.parse_args(argv)
    text = seed_text(args.first_year, args.last_year)
    args.output.write_text(text, encoding="utf-8")
    guessed = sorted({line[:4] for line in text.splitlines() if line.endswith(",weekday_rule")})
    print(
        f"wrote {args.output} ({text.count(chr(10)) - 1} days, chinese-calendar "
        f"{chinese_calendar.__version__})"
        + (f"; by the weekday rule until announced: {', '.join(guessed)}" if guessed else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
