"""credit_repair (信用修复): repairs the credit office decided for published penalties.

UTF-8 without BOM, CRLF. Generated after penalty, whose published penalties it repairs;
without a penalty feed there is nothing to repair and the file has a header only.
"""

from __future__ import annotations

import datetime

from synthetic.agencies import CREDIT_OFFICE
from synthetic.dates import DAY, add_months
from synthetic.feeds.penalty import publicity_months
from synthetic.manifest import FileReport
from synthetic.run import Run
from synthetic.writers import Layout, file_name, write_csv

FEED = "credit_repair"
ENCODING = "utf-8"


def write(run: Run) -> list[FileReport]:
    """Repairs of penalties whose 失信程度 is given, decided inside the repairable window:
    after the minimum publicity period and before publication ends."""
    rng, as_of = run.rng(FEED), run.as_of
    windows = []
    for p in run.penalties:
        if not p.dishonesty:
            continue
        low, high = publicity_months()[p.dishonesty]
        first = add_months(p.decided, low) + DAY
        last = min(add_months(p.decided, high), as_of, p.publicity_until or as_of)
        if first <= last:
            windows.append((p, first, last))
    repairs = []
    for p, first, last in rng.sample(windows, min(run.cfg["repairs"], len(windows))):
        day = first + datetime.timedelta(days=rng.randint(0, (last - first).days))
        method = rng.choices(("信用承诺", "信用报告", "专题培训", "其他", ""), (50, 20, 20, 5, 5))[0]
        repairs.append((day, p.doc_no, p.agency.uscc, method))
    repairs.sort()
    name = file_name(FEED, as_of, None, "csv")
    report = FileReport(FEED, name, "data", ENCODING, "CRLF")
    rows = [
        {
            "decision_no": doc_no,
            "authority_uscc": agency_uscc,
            "repaired_on": day.isoformat(),
            "repair_authority": CREDIT_OFFICE.name,
            "repair_method": method,
        }
        for day, doc_no, agency_uscc, method in repairs
    ]
    report.rows = write_csv(
        run.folder(FEED) / name, Layout(FEED), rows, ENCODING, on_row=run.progress.counter(FEED, len(rows))
    )
    return [report]
