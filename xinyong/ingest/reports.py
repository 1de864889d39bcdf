"""Reports a person reads: the department's rejection report for a file with problems."""

from __future__ import annotations

import csv
import html
from pathlib import Path

from xinyong.ingest import departments
from xinyong.runtime import config, warehouse

STATUS_TEXT = {
    "loaded": "已全部加载",
    "loaded_with_rejects": "已加载，部分行被退回",
    "quarantined": "整个文件被退回（未加载）",
    "unreadable": "文件无法读取（未加载）",
    "duplicate": "重复报送（未加载）",
}


def department_report_path(settings: config.Settings, feed: str, file_name: str) -> Path:
    """In the sending department's outbox folder (departments.csv), one subfolder per feed."""
    return departments.sender(feed).outbox(settings) / feed / f"{file_name}.html"


def write_department_report(warehouse_url: str, file_id: int, settings: config.Settings) -> Path:
    """An HTML page and an Excel-friendly CSV (UTF-8 with BOM) listing every rejected value."""
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute(
            """select feed, file_name, status, rows_read, rows_loaded, rows_rejected, message,
                              to_char(finished_at at time zone 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI')
                       from audit.feed_files where file_id = %s""",
            (file_id,),
        )
        feed, file_name, status, read, loaded, rejected, message, when = cur.fetchone()
        cur.execute(
            """select row_number, column_name, coalesce(value, ''), reason from audit.rejected_rows
                       where file_id = %s order by row_number, column_name""",
            (file_id,),
        )
        problems = cur.fetchall()
    page = department_report_path(settings, feed, file_name)
    page.parent.mkdir(parents=True, exist_ok=True)
    table = page.with_suffix(".csv")
    with table.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["文件", "行号", "列", "值", "原因"])
        writer.writerows([file_name, *p] for p in problems)
    esc = html.escape
    rows = "\n".join(
        f"<tr><td>{r}</td><td>{esc(c)}</td><td>{esc(v)}</td><td>{esc(why)}</td></tr>"
        for r, c, v, why in problems
    )
    page.write_text(
        f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>数据报送问题反馈：{esc(file_name)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}th{{background:#f0f0f0}}
.summary td{{border:none;padding:2px 12px 2px 0}}</style></head><body>
<h1>数据报送问题反馈</h1>
<table class="summary">
<tr><td>文件</td><td>{esc(file_name)}</td></tr>
<tr><td>数据类别</td><td>{esc(feed)}</td></tr>
<tr><td>处理结果</td><td><b>{esc(STATUS_TEXT.get(status, status))}</b></td></tr>
<tr><td>读取行数</td><td>{read}</td></tr><tr><td>加载行数</td><td>{loaded}</td></tr>
<tr><td>退回行数</td><td>{rejected}</td></tr>
<tr><td>说明</td><td>{esc(message or "")}</td></tr><tr><td>处理时间</td><td>{when}</td></tr>
</table>
<p>行号按文件计（表头为第 1 行）。请修改下列问题后，以新文件名重新报送（个人信息已脱敏）。
可用 Excel 打开同名表格：<a href="{esc(table.name)}">{esc(table.name)}</a></p>
<table><tr><th>行号</th><th>列</th><th>值</th><th>原因</th></tr>
{rows}
</table></body></html>
""",
        encoding="utf-8",
    )
    return page
