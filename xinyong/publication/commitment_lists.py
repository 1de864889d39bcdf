"""Each 受理单位's commitment list, written after every publication into its outbox folder.

A department or association that accepted commitments (routed by 受理单位统一社会信用代码
against the departments seed; a 受理单位 the seed does not know goes to the commitment
feed's sender, the credit office) gets one Excel-ready CSV per publication:

    <its outbox_folder>/commitment/commitment_list_<evaluation date>_publication_<id>.csv

with one row per commitment and list it is on: 即将到期 (履约中, 履约期限 within the next N
working days, N = scoring_parameters.commitment_due_within_working_days, judged in dbt),
已逾期 (履约期限 passed while 履约中) and 新增失信 (broken now, not broken in the previous
publication; with no previous publication every broken commitment is new). A department
with commitments but nothing on a list gets the header only: nothing is due. Read from
the live publication in one snapshot that must be the publication asked for; each file is
written under a hidden name and renamed, so a reader never sees half a list.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from xinyong.ingest import departments
from xinyong.publication import publish
from xinyong.publication.schemas import LIVE, PREVIOUS
from xinyong.runtime import config

FEED = "commitment"
LISTS = ("即将到期", "已逾期", "新增失信")
# (CSV header, column of publish.commitment_status); natural persons are masked there
COLUMNS = (
    ("承诺编号", "commitment_no"),
    ("承诺主体名称", "subject_name"),
    ("承诺主体类别", "subject_category"),
    ("统一社会信用代码", "uscc"),
    ("证件号码", "id_number_masked"),
    ("承诺类型", "commitment_type"),
    ("承诺事项", "matter"),
    ("承诺日期", "committed_on"),
    ("履约期限", "due_on"),
    ("受理单位", "acceptor"),
    ("受理单位统一社会信用代码", "acceptor_uscc"),
    ("监管领域", "domain"),
    ("报送履约状态", "reported_state"),
    ("履约判定", "fulfilment_state"),
    ("失信原因", "broken_reason"),
    ("失信日期", "broken_on"),
    ("来源文件", "source_file"),
    ("来源行", "source_row"),
)


def path(
    settings: config.Settings, department: departments.Department, publication_id: int, evaluation_date
) -> Path:
    return (
        department.outbox(settings)
        / FEED
        / f"commitment_list_{evaluation_date}_publication_{publication_id}.csv"
    )


def route(acceptor_uscc: str | None) -> departments.Department:
    """The recipient of a 受理单位's list: the seed's row with its USCC, else the feed's sender."""
    for department in departments.recipients():
        if department.uscc == acceptor_uscc:
            return department
    return departments.sender(FEED)


def has_status(cur, schema: str | None) -> bool:
    if not schema:
        return False
    cur.execute("select to_regclass(%s) is not null", (f'"{schema}".commitment_status',))
    return cur.fetchone()[0]


def listed(cur, schema: str, previous: str | None) -> dict[str, list[tuple[str, dict]]]:
    """{department_code: [(list name, commitment), ...]} for the commitments of `schema`,
    newly broken judged against `previous`; every department with a commitment has a key."""
    previously_broken = (
        f"""exists (select 1 from "{previous}".commitment_status p
                                     where p.commitment_no = s.commitment_no and p.fulfilment_state = '失信')"""
        if has_status(cur, previous)
        else "false"
    )
    names = ", ".join(f"s.{column}" for _, column in COLUMNS)
    due, overdue = "s.is_due_soon", "s.broken_reason_code = 'deadline'"
    new = f"s.fulfilment_state = '失信' and not {previously_broken}"
    routes: dict[str | None, str] = {}
    out: dict[str, list[tuple[str, dict]]] = {}
    # every 受理单位 with a commitment gets a list, if only an empty one ...
    cur.execute(f'select distinct acceptor_uscc from "{schema}".commitment_status')
    for (uscc,) in cur.fetchall():
        routes[uscc] = route(uscc).department_code
        out.setdefault(routes[uscc], [])
    # ... and only the commitments on a list come back (a handful of the table)
    cur.execute(f"""select case when {due} then '即将到期' end,
                           case when {overdue} then '已逾期' end,
                           case when {new} then '新增失信' end,
                           {names}
                    from "{schema}".commitment_status s
                    where {due} or {overdue} or ({new})""")
    for due_soon, past_due, newly_broken, *values in cur.fetchall():
        record = dict(zip((column for _, column in COLUMNS), values, strict=False))
        entries = out[routes[record["acceptor_uscc"]]]
        entries.extend((name, record) for name in (due_soon, past_due, newly_broken) if name)
    for entries in out.values():
        # per list, the nearest deadline first (none last), then by number
        entries.sort(
            key=lambda e: (
                LISTS.index(e[0]),
                e[1]["due_on"] is None,
                str(e[1]["due_on"]),
                e[1]["commitment_no"],
            )
        )
    return out


def write(
    warehouse_url: str, settings: config.Settings, publication_id: int, evaluation_date
) -> dict[str, Path]:
    """Write every 受理单位's list for the live publication; returns {department_code: file}."""
    with publish.live_snapshot(warehouse_url, publication_id) as cur:
        per_department = listed(cur, LIVE, PREVIOUS) if has_status(cur, LIVE) else {}
    codes = {d.department_code: d for d in departments.recipients()}
    return {
        code: _write_atomically(path(settings, codes[code], publication_id, evaluation_date), entries)
        for code, entries in per_department.items()
    }


def _write_atomically(target: Path, entries: list[tuple[str, dict]]) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.tmp-*"):  # left by a killed writer
        stale.unlink(missing_ok=True)
    partial = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    with partial.open("w", encoding="utf-8-sig", newline="") as fh:  # Excel opens UTF-8 with a BOM
        writer = csv.writer(fh)
        writer.writerow(["名单", *(header for header, _ in COLUMNS)])
        writer.writerows(
            [name, *("" if record[c] is None else record[c] for _, c in COLUMNS)] for name, record in entries
        )
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(partial, target)
    return target
