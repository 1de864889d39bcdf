"""The publication report: one static HTML page per publication attempt, no server needed.

Shows the tier distribution against the previous publication (inline SVG), per-feed
health (files, rows, rejects, freshness), the gate results with their Data Docs pages,
and what changed since the previous publication (row counts, new and removed entities,
tier moves), and the risk warnings per kind and per department. Written to
<reports>/publications/publication_<id>.html from the Jinja2 template
templates/publication_report.html (the charts' geometry is computed here, drawn there); a
small inline script marks each chart with its rendered size (`data-rendered`), which the
test reads.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from xinyong.ingest import contracts, departments
from xinyong.publication import commitment_lists, publish, risk_warnings
from xinyong.runtime import config, faults, pages, warehouse

TIERS = ("A", "B", "C", "D")
TIER_NAMES = {"A": "诚信", "B": "良好", "C": "警示", "D": "失信"}
TIER_COLOURS = {"A": "#2e7d32", "B": "#1565c0", "C": "#ef6c00", "D": "#c62828"}
SHOWN_ENTRIES = 100  # of a list or of the warnings on the page; their counts cover all


def path(settings: config.Settings, publication_id: int) -> Path:
    return settings.reports / "publications" / f"publication_{publication_id}.html"


def _tiers(cur, schema: str | None) -> dict[str, int]:
    if not schema or not warehouse.relation_exists(cur, f'"{schema}".entity_credit_profile'):
        return {}
    cur.execute(f'select tier, count(*) from "{schema}".entity_credit_profile group by tier')
    return dict(cur.fetchall())


def _changes(cur, new: str, old: str | None) -> tuple[dict, list]:
    """Tier moves between two publications: a from→to matrix and examples (masked names)."""
    if (
        not old
        or not warehouse.relation_exists(cur, f'"{old}".entity_credit_profile')
        or not warehouse.relation_exists(cur, f'"{new}".entity_credit_profile')
    ):
        return {}, []
    cur.execute(f"""select coalesce(o.tier, '新增'), coalesce(n.tier, '移除'), count(*)
                    from "{new}".entity_credit_profile n
                    full join "{old}".entity_credit_profile o using (entity_key)
                    where n.tier is distinct from o.tier group by 1, 2 order by 1, 2""")
    matrix = {(a, b): c for a, b, c in cur.fetchall()}
    cur.execute(f"""select n.uscc, case when n.entity_type = '个体工商户'
                               then left(n.entity_name, 1) || '**' else n.entity_name end,
                           o.tier, n.tier, o.score, n.score
                    from "{new}".entity_credit_profile n join "{old}".entity_credit_profile o using (entity_key)
                    where n.tier <> o.tier order by n.tier desc, n.uscc limit 50""")
    return matrix, cur.fetchall()


def _feeds(cur) -> list[dict]:
    out = []
    today = dt.date.today()
    for feed, contract in contracts.load_all().items():
        cur.execute(
            """select count(*), coalesce(sum(rows_read), 0), coalesce(sum(rows_loaded), 0),
                              coalesce(sum(rows_rejected), 0),
                              count(*) filter (where status in ('quarantined', 'unreadable')),
                              max(as_of) filter (where status in ('loaded', 'loaded_with_rejects'))
                       from audit.feed_files where feed = %s""",
            (feed,),
        )
        files, read, loaded, rejected, refused, as_of = cur.fetchone()
        age = (today - as_of).days if as_of else None
        fresh = "无数据" if as_of is None else ("正常" if age <= contract.cadence_days else f"过期 {age} 天")
        out.append(
            {
                "feed": feed,
                "title": contract.title,
                "files": files,
                "read": read,
                "loaded": loaded,
                "rejected": rejected,
                "refused": refused,
                "as_of": as_of,
                "fresh": fresh,
                "stale": as_of is None or age > contract.cadence_days,
            }
        )
    return out


def _commitments(cur, new: str | None, old: str | None) -> dict | None:
    """The 践诺 picture of a publication: states, reasons, both lists, each 受理单位's list."""
    if not commitment_lists.has_status(cur, new):
        return None
    cur.execute(f'select fulfilment_state, count(*) from "{new}".commitment_status group by 1')
    states = dict(cur.fetchall())
    cur.execute(f"""select broken_reason_code, count(*) from "{new}".commitment_status
                    where broken_reason_code is not null group by 1""")
    reasons = dict(cur.fetchall())
    cur.execute(f'select count(*) filter (where is_due_soon) from "{new}".commitment_status')
    due_soon = cur.fetchone()[0]
    lists = {}  # kind: (entries, the first SHOWN_ENTRIES of them): a list grows with the warehouse
    for kind in ("red", "grey"):
        cur.execute(f'select count(*) from "{new}".commitment_{kind}_list')
        count = cur.fetchone()[0]
        cur.execute(
            f"""select uscc, entity_name, reason, start_date, end_date
                from "{new}".commitment_{kind}_list order by start_date, uscc limit %s""",
            (SHOWN_ENTRIES,),
        )
        lists[kind] = (count, cur.fetchall())
    recipients = {d.department_code: d for d in departments.recipients()}
    per_department = [
        (recipients[code], {name: sum(1 for n, _ in entries if n == name) for name in commitment_lists.LISTS})
        for code, entries in sorted(commitment_lists.listed(cur, new, old).items())
    ]
    return {
        "states": states,
        "reasons": reasons,
        "due_soon": due_soon,
        "lists": lists,
        "departments": per_department,
    }


COMMITMENT_STATES = ("履约中", "已履约", "失信")
BROKEN_REASONS = {
    "reported": "受理单位核查未履约",
    "deadline": "履约期限已过仍未履约",
    "penalty": "承诺后在其监管领域受到行政处罚",
}
STATUS_TEXT = {
    "published": "已发布",
    "failed": "未通过，未发布",
    "running": "进行中",
    "superseded": "已被新发布取代",
    "rolled_back": "已回滚",
}


def _warnings(cur, schema: str | None) -> dict | None:
    """The risk warnings of a publication: counted per kind and per department in the
    database, and the first SHOWN_ENTRIES (the warnings grow with the warehouse)."""
    if not schema or not risk_warnings.exists(cur, schema):
        return None
    table = f'"{schema}".{risk_warnings.TABLE}'
    cur.execute(f"select title, count(*) from {table} group by title")
    kinds = dict(cur.fetchall())
    # a warning goes to every department of its recipients ('|'-separated codes), as per_department routes it
    cur.execute(f"""select code, count(*) from {table},
                    unnest(string_to_array(recipients, '|')) as code where code <> '' group by code""")
    names = {d.department_code: d.name for d in departments.recipients()}
    per_department = sorted(
        ((names.get(code, code), n) for code, n in cur.fetchall()), key=lambda item: (-item[1], item[0])
    )
    return {
        "count": sum(kinds.values()),
        "kinds": sorted(kinds.items()),
        "departments": per_department,
        "entries": risk_warnings.read(cur, schema, limit=SHOWN_ENTRIES),
        "columns": risk_warnings.COLUMNS[:9],
    }


def _tier_chart(new: dict, old: dict) -> dict:
    """Grouped bars: previous (light) and this publication per tier, with counts."""
    width, height, top, bottom = 520, 240, 20, 40
    peak = max([*new.values(), *old.values(), 1])
    group = (width - 40) / len(TIERS)
    bar = group / 3
    bars, labels = [], []
    for i, tier in enumerate(TIERS):
        x0 = 40 + i * group
        for j, (counts, opacity, label) in enumerate(((old, 0.35, "上期"), (new, 1.0, "本期"))):
            n = counts.get(tier, 0)
            h = (height - top - bottom) * n / peak
            x = x0 + j * (bar + 4)
            bars.append(
                {
                    "x": x,
                    "y": height - bottom - h,
                    "width": bar,
                    "height": max(h, 0),
                    "fill": TIER_COLOURS[tier],
                    "opacity": opacity,
                    "title": f"{label} {tier}: {n}",
                    "n": n,
                }
            )
        labels.append({"x": x0 + bar + 2, "text": f"{tier} {TIER_NAMES[tier]}"})
    return {"width": width, "height": height, "bottom": bottom, "bars": bars, "labels": labels}


def _feed_chart(feeds: list[dict]) -> dict:
    """Horizontal stacked bars per feed: rows loaded and rejected."""
    row_h, width, label_w = 26, 520, 130
    peak = max([f["read"] for f in feeds] + [1])
    rows = []
    for i, f in enumerate(feeds):
        loaded_w = (width - label_w - 60) * f["loaded"] / peak
        rejected_w = (width - label_w - 60) * f["rejected"] / peak
        rows.append({"y": 5 + i * row_h, "loaded_w": loaded_w, "rejected_w": rejected_w, "feed": f})
    return {"width": width, "height": row_h * len(feeds) + 10, "label_w": label_w, "rows": rows}


def write(
    warehouse_url: str,
    settings: config.Settings,
    publication_id: int,
    new_schema: str,
    old_schema: str | None,
) -> Path:
    """Render the report of one attempt: `new_schema` holds its tables, `old_schema` the previous ones."""
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute(
            """select status, started_at, finished_at, evaluation_date, reason, gate_results, artifacts,
                              approved_by, approved_reason, rolled_back_by from audit.publications
                       where publication_id = %s""",
            (publication_id,),
        )
        names = (
            "status",
            "started",
            "finished",
            "day",
            "reason",
            "gate_results",
            "artifacts",
            "approved_by",
            "approved_reason",
            "rolled_back_by",
        )
        attempt = dict(zip(names, cur.fetchone(), strict=True))
        new_ok = (
            warehouse.relation_exists(cur, f'"{new_schema}".entity_credit_profile') if new_schema else False
        )
        old_ok = bool(old_schema) and warehouse.relation_exists(cur, f'"{old_schema}".entity_credit_profile')
        new_tiers = _tiers(cur, new_schema if new_ok else None)
        old_tiers = _tiers(cur, old_schema if old_ok else None)
        new_counts = publish.recorded_row_counts(cur, new_schema) if new_ok else {}
        old_counts = publish.recorded_row_counts(cur, old_schema) if old_ok else {}
        matrix, moves = _changes(cur, new_schema, old_schema) if new_ok else ({}, [])
        cur.execute(
            "select obj_description(oid, 'pg_namespace') from pg_namespace where nspname = %s", (old_schema,)
        )
        row = cur.fetchone()
        old_label = row[0] if row and row[0] else "无上期发布"
        feeds = _feeds(cur)
        commitments = _commitments(cur, new_schema, old_schema)
        warnings = _warnings(cur, new_schema if new_ok else None)
        # Cases past a deadline on the evaluation date (audit.overdue_cases; xinyong/app/cases.py).
        cur.execute(
            """select case_id, case_kind, record_kind, record_key, subject_name, state, decided_by,
                      deadline_kind, deadline from audit.overdue_cases(%s)""",
            (attempt["day"],),
        )
        overdue_cases = cur.fetchall()
    gate_results = attempt["gate_results"] or {}
    total_new, total_old = sum(new_tiers.values()) or 1, sum(old_tiers.values()) or 1
    tier_rows = [
        {
            "tier": t,
            "name": TIER_NAMES[t],
            "old": old_tiers.get(t, 0),
            "new": new_tiers.get(t, 0),
            "share": new_tiers.get(t, 0) / total_new,
            "change": (new_tiers.get(t, 0) / total_new - old_tiers.get(t, 0) / total_old) * 100
            if old_tiers
            else 0,
        }
        for t in TIERS
    ]
    html = pages.render(
        "xinyong.publication",
        "publication_report.html",
        publication_id=publication_id,
        attempt=attempt,
        status_text=STATUS_TEXT.get(attempt["status"], attempt["status"]),
        old_label=old_label,
        tier_chart=_tier_chart(new_tiers, old_tiers),
        tier_rows=tier_rows,
        gx=gate_results.get("gx") or {},
        dbt_failures=(gate_results.get("dbt") or {}).get("failures", [])[:20]
        if (gate_results.get("dbt") or {}).get("success") is False
        else [],
        examples=lambda f: json.dumps(f.get("examples"), ensure_ascii=False, default=str)[:600],
        commitments=commitments,
        commitment_states=COMMITMENT_STATES,
        broken_reasons=BROKEN_REASONS,
        commitment_list_names=commitment_lists.LISTS,
        warnings=warnings,
        overdue_cases=overdue_cases,
        feed_chart=_feed_chart(feeds),
        feeds=feeds,
        counts=[
            (t, old_counts.get(t, "-"), new_counts.get(t, "-"), new_counts.get(t, 0) - old_counts.get(t, 0))
            for t in sorted(set(new_counts) | set(old_counts))
        ],
        matrix=matrix,
        moves=moves,
        artifacts={k: v for k, v in (attempt["artifacts"] or {}).items() if k != "grants"},
    )
    page = path(settings, publication_id)
    page.parent.mkdir(parents=True, exist_ok=True)
    # Written beside and renamed over: a reader (or a killed writer) never leaves half a page.
    for stale in page.parent.glob(f".{page.name}.tmp-*"):  # left by a killed writer
        stale.unlink(missing_ok=True)
    partial = page.with_name(f".{page.name}.tmp-{os.getpid()}")
    partial.write_text(html, encoding="utf-8")
    faults.inject("report:writing")
    os.replace(partial, page)
    return page
