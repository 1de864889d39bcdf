"""The city's daily delta: what the departments send on the day after the first load (as_of
+ 1), kept apart from the first load so a benchmark can load it after that one.

The feeds' own generators write the files dated as_of + 1 (parking's next day, the
commitments checked and the loans decided the next day); here they are moved into
`DELTA_FOLDER` (hidden: not data for a landing root). The tax bureau is not in it: it sends
whole exports, monthly (a file of a day's re-ratings alone would be all D, which the gate
rightly holds as a broken export).
"""

from __future__ import annotations

import re
from pathlib import Path

from synthetic.dates import Date
from synthetic.manifest import FileReport

DELTA_FOLDER = ".daily_delta"
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
