"""The city's daily delta: what the departments send on the day after the first load (as_of
+ 1), kept apart from the first load so a benchmark can load it after that one.

The feeds' own generators already write files dated as_of + 1 (parking's next day, the
commitments and loan decisions of the next day); here they are moved into `DELTA_FOLDER`
(hidden: not data for a landing root) and the tax bureau's re-evaluation is added: the
rows of a small share of the subjects rated A or B in the latest year, now rated D, and
only those rows.
"""

from __future__ import annotations

import csv
import random
import re
from pathlib import Path

from synthetic.dates import DAY, Date
from synthetic.manifest import FileReport
from synthetic.writers import file_name

DELTA_FOLDER = ".daily_delta"
TAX_FEED = "tax_credit"
REGRADED_SHARE = 0.002  # of the latest year's A and B ratings
_DATED = re.compile(r"_(\d{8})(?:_\d+)?\.")


def file_day(name: str) -> Date | None:
    found = _DATED.search(name)
    return Date(int(found[1][:4]), int(found[1][4:6]), int(found[1][6:])) if found else None


def split_off(reports: list[FileReport], out: Path, as_of: Date) -> tuple[list[FileReport], list[FileReport]]:
    """The first load's files and the delta's (dated after as_of, moved into DELTA_FOLDER)."""
    first, delta = [], []
    for report in reports:
        day = file_day(report.file)
        if day is not None and day > as_of and report.kind == "data":
            target = out / DELTA_FOLDER / report.feed / report.file
            target.parent.mkdir(parents=True, exist_ok=True)
            (out / report.feed / report.file).rename(target)
            delta.append(report)
        else:
            first.append(report)
    return first, delta


def tax_regrades(reports: list[FileReport], out: Path, as_of: Date, seed: int) -> FileReport:
    """The tax bureau's file of as_of + 1: the re-rated rows only, streamed from the first
    export's files (several at city scale)."""
    parts = [r for r in reports if r.feed == TAX_FEED and r.kind == "data"]
    rng = random.Random(f"{seed}/daily_delta/{TAX_FEED}")
    name = file_name(TAX_FEED, as_of + DAY, None, "csv")
    target = out / DELTA_FOLDER / TAX_FEED / name
    target.parent.mkdir(parents=True, exist_ok=True)
    first = parts[0]
    report = FileReport(TAX_FEED, name, "data", first.encoding, first.line_end)
    line_end = {"CRLF": "\r\n", "LF": "\n"}[first.line_end]
    latest = str(as_of.year - 1)  # the evaluation year published in as_of's year
    with open(target, "w", encoding=first.encoding, newline="") as sink:
        writer = csv.writer(sink, lineterminator=line_end)
        for part in parts:
            with open(out / TAX_FEED / part.file, encoding=part.encoding, newline="") as source:
                rows = csv.reader(source)
                header = next(rows)
                if part is first:
                    writer.writerow(header)
                grade, score, year = (
                    header.index("纳税信用等级"),
                    header.index("评价得分"),
                    header.index("评价年度"),
                )
                for number, row in enumerate(rows, start=2):
                    if (
                        row[year] == latest
                        and row[grade] in ("A", "B")
                        and number not in part.bad
                        and rng.random() < REGRADED_SHARE
                    ):
                        row[grade], row[score] = "D", "18"
                        writer.writerow(row)
                        report.rows += 1
    report.extra["re_rated_d"] = report.rows
    return report
