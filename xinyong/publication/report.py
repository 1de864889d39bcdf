"""The publication report: one static HTML page per publication attempt, no server needed.

Shows the tier distribution against the previous publication (inline SVG), per-feed
health (files, rows, rejects, freshness), the gate results with their Data Docs pages,
and what changed since the previous publication (row counts, new and removed entities,
tier moves). Written to <reports>/publications/publication_<id>.html; a small inline
script marks each chart with its rendered size (`data-rendered`), which the test reads.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from pathlib import Path

from xinyong.ingest import contracts, departments
from xinyong.publication import commitment_lists, publish
from xinyong.runtime import config, faults, warehouse

TIERS = ("A", "B", "C", "D")
TIER_NAMES = {"A": "诚信", "B": "良好", "C": "警示", "D": "失信"}
TIER_COLOURS = {"A": "#2e7d32", "B": "#1565c0", "C": "#ef6c00", "D": "#c62828"}
esc = html.escape


def path(settings: config.Settings, publication_id: int) -> Path:
    return settings.reports / "publications" / f"publication_{publication_id}.html"


def _exists(cur, relation: str) -> bool:
    cur.execute("select to_regclass(%s) is not null", (relation,))
    return cur.fetchone()[0]


def _tiers(cur, schema: str | None) -> dict[str, int]:
    if not schema or not _exists(cur, f'"{schema}".entity_credit_profile'):
        return {}
    cur.execute(f'select tier, count(*) from "{schema}".entity_credit_profile group by tier')
    return dict(cur.fetchall())


def _changes(cur, new: str, old: str | None) -> tuple[dict, list]:
    """Tier moves between two publications: a from→to matrix and examples (masked names)."""
    if (
        not old
        or not _exists(cur, f'"{old}".entity_credit_profile')
        or not _exists(cur, f'"{new}".entity_credit_profile')
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
    lists = {}
    for kind in ("red", "grey"):
        cur.execute(f"""select uscc, entity_name, reason, start_date, end_date
                        from "{new}".commitment_{kind}_list order by start_date, uscc""")
        lists[kind] = cur.fetchall()
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


def _commitment_section(commitments: dict | None) -> str:
    if commitments is None:
        return ""
    states = "".join(
        f"<tr><td>{s}</td><td>{commitments['states'].get(s, 0):,}</td></tr>" for s in COMMITMENT_STATES
    )
    reasons = "".join(
        f"<tr><td>{esc(text)}</td><td>{commitments['reasons'].get(code, 0):,}</td></tr>"
        for code, text in BROKEN_REASONS.items()
    )

    def entries(rows):
        return "".join(
            f"<tr><td>{esc(u)}</td><td>{esc(n or '')}</td><td>{esc(r)}</td><td>{a}</td><td>{b}</td></tr>"
            for u, n, r, a, b in rows[:100]
        )

    head = (
        "<tr><th>统一社会信用代码</th><th>主体名称</th><th>原因</th><th>列入日期</th><th>有效期至</th></tr>"
    )
    red, grey = commitments["lists"]["red"], commitments["lists"]["grey"]
    departments = "".join(
        f"<tr><td>{esc(d.name)}</td>{''.join(f'<td>{counts[name]:,}</td>' for name in commitment_lists.LISTS)}</tr>"
        for d, counts in commitments["departments"]
    )
    return f"""<h2 id="commitments">信用承诺（践诺）</h2>
<table id="commitment-states"><tr><th>履约判定</th><th>承诺数</th></tr>{states}
<tr><td>即将到期（履约中）</td><td>{commitments["due_soon"]:,}</td></tr></table>
<table id="commitment-reasons"><tr><th>失信原因</th><th>承诺数</th></tr>{reasons}</table>
<h3>践诺红名单：{len(red):,}</h3>
<table id="commitment-red-list">{head}{entries(red)}</table>
<h3>践诺灰名单：{len(grey):,}</h3>
<table id="commitment-grey-list">{head}{entries(grey)}</table>
<h3>各受理单位承诺名单</h3>
<table id="commitment-departments"><tr><th>受理单位</th>{"".join(f"<th>{n}</th>" for n in commitment_lists.LISTS)}</tr>
{departments}</table>
"""


def _tier_chart(new: dict, old: dict) -> str:
    """Grouped bars: previous (light) and this publication per tier, with counts."""
    width, height, top, bottom = 520, 240, 20, 40
    peak = max([*new.values(), *old.values(), 1])
    group = (width - 40) / len(TIERS)
    bar = group / 3
    parts = [
        f'<svg class="chart" id="tier-chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="tier distribution">',
        f'<line x1="30" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" stroke="#999"/>',
    ]
    for i, tier in enumerate(TIERS):
        x0 = 40 + i * group
        for j, (counts, opacity, label) in enumerate(((old, 0.35, "上期"), (new, 1.0, "本期"))):
            n = counts.get(tier, 0)
            h = (height - top - bottom) * n / peak
            x = x0 + j * (bar + 4)
            y = height - bottom - h
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{max(h, 0):.1f}" '
                f'fill="{TIER_COLOURS[tier]}" fill-opacity="{opacity}"><title>{label} {tier}: {n}</title></rect>'
            )
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" font-size="11" text-anchor="middle">{n}</text>'
            )
        parts.append(
            f'<text x="{x0 + bar + 2:.1f}" y="{height - bottom + 16}" font-size="13" text-anchor="middle">'
            f"{tier} {TIER_NAMES[tier]}</text>"
        )
    parts.append(
        f'<text x="{width - 150}" y="{height - 8}" font-size="11" fill="#555">浅色 = 上期，深色 = 本期</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _feed_chart(feeds: list[dict]) -> str:
    """Horizontal stacked bars per feed: rows loaded and rejected."""
    row_h, width, label_w = 26, 520, 130
    height = row_h * len(feeds) + 10
    peak = max([f["read"] for f in feeds] + [1])
    parts = [
        f'<svg class="chart" id="feed-chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="rows per feed">'
    ]
    for i, f in enumerate(feeds):
        y = 5 + i * row_h
        loaded_w = (width - label_w - 60) * f["loaded"] / peak
        rejected_w = (width - label_w - 60) * f["rejected"] / peak
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{esc(f["feed"])}</text>')
        parts.append(
            f'<rect class="bar" x="{label_w}" y="{y}" width="{loaded_w:.1f}" height="18" fill="#1565c0">'
            f"<title>loaded {f['loaded']}</title></rect>"
        )
        parts.append(
            f'<rect class="bar" x="{label_w + loaded_w:.1f}" y="{y}" width="{rejected_w:.1f}" height="18" '
            f'fill="#c62828"><title>rejected {f["rejected"]}</title></rect>'
        )
        parts.append(
            f'<text x="{label_w + loaded_w + rejected_w + 4:.1f}" y="{y + 14}" font-size="11">'
            f"{f['loaded']:,} / {f['rejected']:,}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _link(target: str | None) -> str:
    if not target:
        return ""
    return f'<a href="{esc(target)}">Data Docs</a>'


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
        (
            status,
            started,
            finished,
            day,
            reason,
            gate_results,
            artifacts,
            approved_by,
            approved_reason,
            rolled_back_by,
        ) = cur.fetchone()
        new_ok = _exists(cur, f'"{new_schema}".entity_credit_profile') if new_schema else False
        old_ok = bool(old_schema) and _exists(cur, f'"{old_schema}".entity_credit_profile')
        new_tiers = _tiers(cur, new_schema if new_ok else None)
        old_tiers = _tiers(cur, old_schema if old_ok else None)
        new_counts = publish.row_counts(cur, new_schema) if new_ok else {}
        old_counts = publish.row_counts(cur, old_schema) if old_ok else {}
        matrix, moves = _changes(cur, new_schema, old_schema) if new_ok else ({}, [])
        cur.execute(
            "select obj_description(oid, 'pg_namespace') from pg_namespace where nspname = %s", (old_schema,)
        )
        row = cur.fetchone()
        old_label = row[0] if row and row[0] else "无上期发布"
        feeds = _feeds(cur)
        commitments = _commitments(cur, new_schema, old_schema)
        # Cases past a deadline on the evaluation date (audit.overdue_cases; xinyong/app/cases.py).
        cur.execute(
            """select case_id, case_kind, record_kind, record_key, subject_name, state, decided_by,
                      deadline_kind, deadline from audit.overdue_cases(%s)""",
            (day,),
        )
        overdue_cases = cur.fetchall()
    gx = (gate_results or {}).get("gx") or {}
    total_new, total_old = sum(new_tiers.values()) or 1, sum(old_tiers.values()) or 1
    tier_rows = "".join(
        f"<tr><td>{t} {TIER_NAMES[t]}</td><td>{old_tiers.get(t, 0):,}</td><td>{new_tiers.get(t, 0):,}</td>"
        f"<td>{new_tiers.get(t, 0) / total_new:.1%}</td>"
        f"<td>{(new_tiers.get(t, 0) / total_new - old_tiers.get(t, 0) / total_old) * 100 if old_tiers else 0:+.1f} pp</td></tr>"
        for t in TIERS
    )
    feed_rows = "".join(
        f"<tr><td>{esc(f['feed'])}</td><td>{esc(f['title'])}</td><td>{f['files']}</td><td>{f['read']:,}</td>"
        f"<td>{f['loaded']:,}</td><td>{f['rejected']:,}</td><td>{f['refused']}</td><td>{f['as_of'] or '-'}</td>"
        f'<td class="{"bad" if f["stale"] else "ok"}">{esc(f["fresh"])}</td></tr>'
        for f in feeds
    )
    validations = "".join(
        f"<tr><td>{esc(v['validation'])}</td><td>{esc(v['suite'])}</td><td>{v['expectations']}</td>"
        f'<td class="{"ok" if v["success"] else "bad"}">{"通过" if v["success"] else "未通过"}</td>'
        f"<td>{_link(v.get('data_docs'))}</td></tr>"
        for v in gx.get("validations", [])
    )
    validations += "".join(
        f'<tr><td>{esc(s["validation"])}</td><td>{esc(s["suite"])}</td><td>-</td><td class="skip">跳过</td>'
        f"<td>{esc(s['reason'])}</td></tr>"
        for s in gx.get("skipped", [])
    )
    failures = "".join(
        f"<li><b>{esc(f['asset'])}: {esc(f['expectation'])}</b> {esc(f.get('note') or '')} "
        f"— unexpected {esc(str(f.get('unexpected_count')))}{' (可审批放行)' if f.get('approvable') else ''} "
        f"{_link(f.get('data_docs'))}<br><code>{esc(json.dumps(f.get('examples'), ensure_ascii=False, default=str)[:600])}</code></li>"
        for f in gx.get("failures", [])
    )
    if (gate_results or {}).get("dbt", {}).get("success") is False:
        failures += "".join(
            f"<li><b>dbt</b> {esc(x)}</li>" for x in gate_results["dbt"].get("failures", [])[:20]
        )
    count_rows = "".join(
        f"<tr><td>{esc(t)}</td><td>{old_counts.get(t, '-')}</td><td>{new_counts.get(t, '-')}</td>"
        f"<td>{(new_counts.get(t, 0) - old_counts.get(t, 0)):+,}</td></tr>"
        for t in sorted(set(new_counts) | set(old_counts))
    )
    matrix_rows = "".join(
        f"<tr><td>{esc(a)}</td><td>{esc(b)}</td><td>{n:,}</td></tr>" for (a, b), n in matrix.items()
    )
    move_rows = "".join(
        f"<tr><td>{esc(u)}</td><td>{esc(n or '')}</td><td>{a} → {b}</td><td>{s0} → {s1}</td></tr>"
        for u, n, a, b, s0, s1 in moves
    )
    overdue_rows = "".join(
        f"<tr><td>{case_id}</td><td>{esc(kind)}</td><td>{esc(record_kind)} {esc(key)}</td><td>{esc(subject or '')}</td>"
        f"<td>{esc(state)}</td><td>{esc(decider)}</td><td class='bad'>{esc(deadline_kind)} {deadline}</td></tr>"
        for case_id, kind, record_kind, key, subject, state, decider, deadline_kind, deadline in overdue_cases
    )
    status_text = {
        "published": "已发布",
        "failed": "未通过，未发布",
        "running": "进行中",
        "superseded": "已被新发布取代",
        "rolled_back": "已回滚",
    }.get(status, status)
    approval = (
        f"<p>审批放行：{esc(approved_by)}，理由：{esc(approved_reason or '')}</p>" if approved_by else ""
    )
    page = path(settings, publication_id)
    page.parent.mkdir(parents=True, exist_ok=True)
    artifacts = artifacts or {}
    # Written beside and renamed over: a reader (or a killed writer) never leaves half a page.
    for stale in page.parent.glob(f".{page.name}.tmp-*"):  # left by a killed writer
        stale.unlink(missing_ok=True)
    partial = page.with_name(f".{page.name}.tmp-{os.getpid()}")
    partial.write_text(
        f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>发布报告 publication {publication_id}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:72em;color:#222}}
table{{border-collapse:collapse;margin:0.5em 0 1.5em}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}
th{{background:#f3f3f3}}.ok{{color:#2e7d32}}.bad{{color:#c62828;font-weight:bold}}.skip{{color:#777}}
.status{{font-size:1.3em}}code{{font-size:0.85em;color:#555}}</style></head><body>
<h1>信用数据发布报告 · publication {publication_id}</h1>
<p class="status">状态：<b class="{"ok" if status == "published" else "bad"}">{esc(status_text)}</b>
 &nbsp; 评价基准日 {day} &nbsp; 开始 {started:%Y-%m-%d %H:%M:%S} &nbsp; 结束 {f"{finished:%Y-%m-%d %H:%M:%S}" if finished else "-"}</p>
{approval}{f"<p>回滚人：{esc(rolled_back_by)}</p>" if rolled_back_by else ""}
{f"<pre>{esc(reason)}</pre>" if reason and status != "published" else ""}
<h2>信用等级分布及变化（对比：{esc(old_label)}）</h2>
{_tier_chart(new_tiers, old_tiers)}
<table><tr><th>等级</th><th>上期</th><th>本期</th><th>本期占比</th><th>占比变化</th></tr>{tier_rows}</table>
<h2>质量闸门</h2>
<table><tr><th>校验</th><th>规则集</th><th>期望数</th><th>结果</th><th>说明</th></tr>{validations}</table>
{f"<h3>未通过的期望</h3><ul>{failures}</ul>" if failures else "<p class='ok'>全部通过。</p>"}
<p>Data Docs：{_link(gx.get("data_docs"))}</p>
{_commitment_section(commitments)}
<h2>逾期未办结的异议与信用修复案件</h2>
{f"<table id='overdue-cases'><tr><th>案件</th><th>类型</th><th>记录</th><th>主体</th><th>状态</th><th>决定部门</th><th>已过期限</th></tr>{overdue_rows}</table>" if overdue_rows else "<p class='ok'>无逾期案件。</p>"}
<h2>各数据源健康状况</h2>
{_feed_chart(feeds)}
<table><tr><th>数据源</th><th>名称</th><th>文件数</th><th>读取行</th><th>加载行</th><th>退回行</th><th>整体退回文件</th>
<th>最新数据日期</th><th>时效</th></tr>{feed_rows}</table>
<h2>与上期相比的变化</h2>
<table><tr><th>表</th><th>上期行数</th><th>本期行数</th><th>变化</th></tr>{count_rows}</table>
<table><tr><th>原等级</th><th>新等级</th><th>主体数</th></tr>{matrix_rows or "<tr><td colspan=3>无变化或无上期</td></tr>"}</table>
{f"<table><tr><th>统一社会信用代码</th><th>主体名称</th><th>等级</th><th>分数</th></tr>{move_rows}</table>" if move_rows else ""}
<h2>产物</h2><ul>{"".join(f"<li>{esc(k)}: <code>{esc(str(v))}</code></li>" for k, v in artifacts.items() if k != "grants")}</ul>
<script>
// Marks each chart with its rendered size so a headless browser can check it was laid out.
document.querySelectorAll("svg.chart").forEach(function (svg) {{
  var bars = svg.querySelectorAll("rect.bar"), drawn = 0;
  bars.forEach(function (r) {{ var b = r.getBBox(); if (b.width > 0 && b.height > 0) drawn++; }});
  var box = svg.getBoundingClientRect();
  svg.setAttribute("data-rendered", Math.round(box.width) + "x" + Math.round(box.height) + ":" + drawn + "bars");
}});
</script>
</body></html>
""",
        encoding="utf-8",
    )
    faults.inject("report:writing")
    os.replace(partial, page)
    return page
