"""The department page: one static HTML page per department of the seed, regenerated after
every run, at `<its outbox_folder>/index.html` (beside the reports and lists it links to).

The page is a list of sections (`SECTIONS`); each has a template in `templates/` and a
function that collects its data for one department, or returns None when the section has
nothing to show for it. A later part adds its section (objections about the department's
records, loan outcomes, ...) by appending a `Section` here and a template, nothing else.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from xinyong.ingest import departments, freshness
from xinyong.ingest.reports import STATUS_TEXT
from xinyong.publication import publish, risk_warnings
from xinyong.publication.schemas import LIVE
from xinyong.runtime import config, pages, warehouse

PAGE = "index.html"


@dataclass(frozen=True)
class Context:
    """What every section may read: the department, its page's folder, a cursor on the
    warehouse (audit tables and the live publication), the live publication, the time and
    every feed's freshness."""

    department: departments.Department
    folder: Path
    cur: object
    live: dict | None
    settings: config.Settings
    now: dt.datetime
    freshness: dict[str, freshness.Freshness]

    def link(self, target: str | Path | None) -> str | None:
        """A link from the page to a file (relative when below the page's folder)."""
        if not target:
            return None
        target = Path(target)
        try:
            return os.path.relpath(target, self.folder)
        except ValueError:
            return target.as_uri()


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    template: str
    collect: Callable[[Context], dict | None]


def _deliveries(ctx: Context) -> dict | None:
    feeds = list(ctx.department.feeds)
    if not feeds:
        return None
    ctx.cur.execute(
        """select file_id, feed, file_name, status, as_of, rows_read, rows_loaded, rows_rejected,
                  message, report_path, finished_at
           from audit.feed_files where feed = any(%s) order by file_id desc limit 200""",
        (feeds,),
    )
    names = [d[0] for d in ctx.cur.description]
    files = [dict(zip(names, row, strict=True)) for row in ctx.cur.fetchall()]
    for f in files:
        f["status_text"] = STATUS_TEXT.get(f["status"], f["status"])
        f["report_link"] = ctx.link(f["report_path"])
        f["problem"] = f["status"] not in ("loaded", "duplicate")
    return {"files": files, "rejected_rows": sum(f["rows_rejected"] for f in files)}


def _freshness(ctx: Context) -> dict | None:
    feeds = [ctx.freshness[feed] for feed in ctx.department.feeds if feed in ctx.freshness]
    return {"feeds": feeds} if feeds else None


def _warnings(ctx: Context) -> dict | None:
    if not ctx.live:
        return {"warnings": [], "total": 0, "live": None, "files": []}
    code = ctx.department.department_code
    total = risk_warnings.counts(ctx.cur, LIVE, department=code).get(code, 0)
    entries = risk_warnings.first_per_department(ctx.cur, LIVE, department=code).get(code, [])
    files = sorted(
        (ctx.department.outbox(ctx.settings) / "warnings").glob("risk_warnings_*.csv"), reverse=True
    )
    return {
        "warnings": entries,
        "total": total,
        "live": ctx.live,
        "columns": risk_warnings.COLUMNS[:8],
        "files": [{"name": f.name, "link": ctx.link(f)} for f in files[:20]],
    }


def _mails(ctx: Context) -> dict | None:
    ctx.cur.execute(
        """select event, subject, recipient, status, error, claimed_at, sent_at from audit.mail_ledger
           where department = %s order by claimed_at desc limit 100""",
        (ctx.department.department_code,),
    )
    names = [d[0] for d in ctx.cur.description]
    return {"mails": [dict(zip(names, row, strict=True)) for row in ctx.cur.fetchall()]}


def _commitments_due(ctx: Context) -> dict | None:
    """Extension point of the commitments part: today the links to the department's lists."""
    files = sorted(
        (ctx.department.outbox(ctx.settings) / "commitment").glob("commitment_list_*.csv"), reverse=True
    )
    if not files:
        return None
    return {"files": [{"name": f.name, "link": ctx.link(f)} for f in files[:20]]}


SECTIONS: list[Section] = [
    Section("deliveries", "数据报送情况", "department_deliveries.html", _deliveries),
    Section("freshness", "报送时效", "department_freshness.html", _freshness),
    Section("warnings", "风险预警", "department_warnings.html", _warnings),
    Section("mails", "邮件通知", "department_mails.html", _mails),
    Section(
        "commitments",
        "信用承诺名单（即将到期、已逾期、新增失信）",
        "department_commitments.html",
        _commitments_due,
    ),
    # Section("objections", "异议处理", "department_objections.html", ...)  -- the objections part
]


def path(settings: config.Settings, department: departments.Department) -> Path:
    return department.outbox(settings) / PAGE


def write_all(warehouse_url: str, settings: config.Settings | None = None) -> dict[str, Path]:
    """Regenerate every department's page; returns {department_code: page}."""
    settings = settings or config.load()
    live = publish.current(warehouse_url)
    written = {}
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute("select now()")
        now = cur.fetchone()[0]
        fresh = {f.feed: f for f in freshness.status(warehouse_url, now=now)}
        for department in departments.recipients():
            folder = department.outbox(settings)
            ctx = Context(department, folder, cur, live, settings, now, fresh)
            sections = []
            for section in SECTIONS:
                data = section.collect(ctx)
                if data is not None:
                    sections.append(
                        {"id": section.id, "title": section.title, "template": section.template, **data}
                    )
            html = pages.render(
                "xinyong.publication",
                "department_page.html",
                department=department,
                sections=sections,
                live=live,
                generated=now,
            )
            written[department.department_code] = pages.write_atomically(path(settings, department), html)
    return written
