"""Risk warnings delivered: each recipient's warnings of a publication as a file in its
outbox folder and as one mail (through `mailer`, whose ledger keeps a rerun from sending
twice).

The warnings themselves are computed by dbt (model `risk_warnings`, kinds and thresholds in
the seed `warning_kinds`) when the candidate is built, against the publication that was
live then, and go live with it. After the swap, from one snapshot of the live publication:

    <department outbox_folder>/warnings/risk_warnings_<evaluation date>_publication_<id>.csv

(UTF-8 with a BOM for Excel), one per department with at least one warning; a department
with none gets no file and no mail. The first publication has no warnings (baseline).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from xinyong.ingest import departments
from xinyong.publication import mailer, publish
from xinyong.publication.schemas import LIVE
from xinyong.runtime import config, pages

TABLE = "risk_warnings"
# (CSV header, column of publish.risk_warnings)
COLUMNS = (
    ("预警种类", "title"),
    ("统一社会信用代码", "uscc"),
    ("主体名称", "subject_name"),
    ("变化", "detail"),
    ("监管领域", "domain"),
    ("证据来源数据", "evidence_feed"),
    ("证据来源文件", "evidence_file"),
    ("证据来源行", "evidence_row"),
    ("接收部门", "recipients"),
    ("对比发布", "compared_with"),
    ("预警键", "warning_key"),
    ("种类代号", "kind"),
)


def path(settings: config.Settings, department: departments.Department, publication_id: int, day) -> Path:
    return department.outbox(settings) / "warnings" / f"risk_warnings_{day}_publication_{publication_id}.csv"


# A mail and a department's page list this many of its warnings; the file holds every one.
SHOWN = 200


def exists(cur, schema: str = LIVE) -> bool:
    cur.execute("select to_regclass(%s) is not null", (f'"{schema}".{TABLE}',))
    return cur.fetchone()[0]


def read(cur, schema: str = LIVE, limit: int | None = None) -> list[dict]:
    """Every warning of a publication's schema, or the first `limit` (none when it has no such table)."""
    if not exists(cur, schema):
        return []
    names = ", ".join(column for _, column in COLUMNS)
    cur.execute(
        f'select {names} from "{schema}".{TABLE} order by kind, uscc nulls last, warning_key limit %s',
        (limit,),
    )
    return [dict(zip((c for _, c in COLUMNS), row, strict=True)) for row in cur.fetchall()]


def _routed(schema: str, department: str | None = None) -> str:
    """One row per warning and recipient (recipients are '|'-separated department codes),
    or only `department`'s rows."""
    names = ", ".join(f"w.{column}" for _, column in COLUMNS)
    only = "and code = %(department)s" if department else ""
    return f"""select code, {names}
               from "{schema}".{TABLE} as w
               cross join lateral unnest(string_to_array(w.recipients, '|')) as code
               where code <> '' {only}"""


def counts(cur, schema: str = LIVE, department: str | None = None) -> dict[str, int]:
    """{department code: how many warnings it receives}, counted in the database."""
    if not exists(cur, schema):
        return {}
    cur.execute(
        f"select code, count(*) from ({_routed(schema, department)}) as routed group by code",
        {"department": department},
    )
    return dict(cur.fetchall())


def first_per_department(
    cur, schema: str = LIVE, limit: int = SHOWN, department: str | None = None
) -> dict[str, list[dict]]:
    """{department code: its first `limit` warnings}, in the order of the files."""
    if not exists(cur, schema):
        return {}
    names = ", ".join(column for _, column in COLUMNS)
    cur.execute(
        f"""select code, {names} from (
                select routed.*, row_number() over (
                    partition by code order by kind, uscc nulls last, warning_key) as shown
                from ({_routed(schema, department)}) as routed) as ranked
            where shown <= %(limit)s order by code, shown""",
        {"limit": limit, "department": department},
    )
    out: dict[str, list[dict]] = {}
    for code, *row in cur.fetchall():
        out.setdefault(code, []).append(dict(zip((c for _, c in COLUMNS), row, strict=True)))
    return out


def write(
    warehouse_url: str, settings: config.Settings, publication_id: int, evaluation_date
) -> dict[str, Path]:
    """Each recipient's warnings file for the live publication; returns {department_code: file}.
    Streamed: one department's file open at a time, rows read in batches (a city's first
    comparison can warn of hundreds of thousands of subjects)."""
    known = {d.department_code: d for d in departments.recipients()}
    written: dict[str, Path] = {}
    with publish.live_snapshot(warehouse_url, publication_id) as cur:
        unknown = sorted(set(counts(cur)) - set(known))
        if unknown:  # the seeds disagree: a dbt test should have stopped it, so say so loudly
            raise ValueError(f"risk warnings name departments the seed does not know: {', '.join(unknown)}")
        if not exists(cur):
            return written
        rows = cur.connection.cursor(name="risk_warnings_by_department")
        rows.itersize = 5000
        rows.execute(f"{_routed(LIVE)} order by code, w.kind, w.uscc nulls last, w.warning_key")
        code, fh, writer, partial = None, None, None, None
        try:
            for row in rows:
                if row[0] != code:
                    if fh is not None:
                        fh.close()
                        os.replace(partial, written[code])
                    code = row[0]
                    written[code] = path(settings, known[code], publication_id, evaluation_date)
                    written[code].parent.mkdir(parents=True, exist_ok=True)
                    partial = written[code].with_name(f".{written[code].name}.tmp-{os.getpid()}")
                    fh = partial.open("w", encoding="utf-8-sig", newline="")
                    writer = csv.writer(fh)
                    writer.writerow([header for header, _ in COLUMNS])
                writer.writerow(["" if value is None else value for value in row[1:]])
            if fh is not None:
                fh.close()
                os.replace(partial, written[code])
        finally:
            if fh is not None and not fh.closed:
                fh.close()
                partial.unlink(missing_ok=True)
            rows.close()
    return written


def messages(
    warehouse_url: str, settings: config.Settings, publication_id: int, evaluation_date
) -> list[mailer.Message]:
    """One mail per recipient with warnings in the live publication, its file attached."""
    with publish.live_snapshot(warehouse_url, publication_id) as cur:
        totals = counts(cur)
        shown = first_per_department(cur)
    out = []
    for department in departments.recipients():
        total = totals.get(department.department_code)
        if not total:
            continue
        entries = shown[department.department_code]
        attachment = path(settings, department, publication_id, evaluation_date)
        subject = f"【风险预警】{total} 条 · 评价基准日 {evaluation_date} · 发布 {publication_id}"
        out.append(
            mailer.Message(
                key=f"risk_warnings:{publication_id}:{department.department_code}",
                event="risk_warnings",
                department=department.department_code,
                recipient=department.email,
                subject=subject,
                html=pages.render(
                    "xinyong.publication",
                    "mail_warnings.html",
                    department=department,
                    warnings=entries,
                    total=total,
                    publication_id=publication_id,
                    evaluation_date=evaluation_date,
                    columns=COLUMNS[:9],
                    attachment=attachment.name,
                ),
                attachments=(attachment,) if attachment.exists() else (),
            )
        )
    return out
