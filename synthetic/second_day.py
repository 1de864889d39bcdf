"""A second day's files for the demo: the tax bureau sends its file again, one day later,
with a few subjects it rated A or B the day before now rated D (a re-evaluation), so the
second publication has something to warn about. Written into its own folder, which `make
demo` moves into the landing folder after the first run.
"""

from __future__ import annotations

import csv
import datetime
import io
import random
from pathlib import Path

from synthetic.dates import DAY

FEED = "tax_credit"
REGRADED = 3  # subjects re-rated D on the second day


def write(summary: dict, out: Path, into: Path, seed: int) -> list[Path]:
    """From the first day's generated tax file (summary: generate()'s), the second day's."""
    first = next(f for f in summary["files"] if f["feed"] == FEED and f["kind"] == "data")
    source = out / FEED / first["file"]
    encoding = first["encoding"]
    text = source.read_bytes().decode(encoding)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = rows[0]
    grade, score, year = header.index("纳税信用等级"), header.index("评价得分"), header.index("评价年度")
    latest = max(r[year] for r in rows[1:] if r[year].isdigit())
    candidates = sorted(i for i, r in enumerate(rows) if i and r[year] == latest and r[grade] in ("A", "B"))
    for i in random.Random(seed).sample(candidates, min(REGRADED, len(candidates))):
        rows[i][grade], rows[i][score] = "D", "18"
    day = datetime.date.fromisoformat(summary["as_of"]) + DAY
    target = into / FEED / f"{FEED}_{day:%Y%m%d}.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh, lineterminator={"CRLF": "\r\n", "LF": "\n"}[first["line_end"]]).writerows(rows)
    return [target]
