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


def per_department(warnings: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for warning in warnings:
        for code in (warning["recipients"] or "").split("|"):
            if code:
                out.setdefault(code, []).append(warning)
    return out


def write(
    warehouse_url: str, settings: config.Settings, publication_id: int, evaluation_date
) -> dict[str, Path]:
    """Each recipient's warnings file for the live publication; returns {department_code: file}."""
    with publish.live_snapshot(warehouse_url, publication_id) as cur:
        routed = per_department(read(cur))
    known = {d.department_code: d for d in departments.recipients()}
    unknown = sorted(set(routed) - set(known))
    if unknown:  # the seeds disagree: a dbt test should have stopped it, so say so loudly
        raise ValueError(f"risk warnings name departments the seed does not know: {', '.join(unknown)}")
    return {
        code: _write_csv(path(settings, known[code], publication_id, evaluation_date), entries)
        for code, entries in routed.items()
    }


def _write_csv(target: Path, entries: list[dict]) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    with partial.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([header for header, _ in COLUMNS])
        writer.writerows([("" if w[c] is None else w[c]) for _, c in COLUMNS] for w in entries)
    os.replace(partial, target)
    return target


def messages(
    warehouse_url: str, settings: config.Settings, publication_id: int, evaluation_date
) -> list[mailer.Message]:
    """One mail per recipient with warnings in the live publication, its file attached."""
    with publish.live_snapshot(warehouse_url, publication_id) as cur:
        routed = per_department(read(cur))
    out = []
    for department in departments.recipients():
        entries = routed.get(department.department_code)
        if not entries:
            continue
        attachment = path(settings, department, publication_id, evaluation_date)
        subject = f"【风险预警】{len(entries)} 条 · 评价基准日 {evaluation_date} · 发布 {publication_id}"
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
                    publication_id=publication_id,
                    evaluation_date=evaluation_date,
                    columns=COLUMNS[:9],
                    attachment=attachment.name,
                ),
                attachments=(attachment,) if attachment.exists() else (),
            )
        )
    return out
