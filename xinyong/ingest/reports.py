"""Reports a person reads: the department's rejection report for a file with problems
(template templates/department_report.html)."""

from __future__ import annotations

import csv
from pathlib import Path

from xinyong.ingest import departments
from xinyong.runtime import config, pages, warehouse

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
    page.write_text(
        pages.render(
            "xinyong.ingest",
            "department_report.html",
            file_name=file_name,
            feed=feed,
            status_text=STATUS_TEXT.get(status, status),
            read=read,
            loaded=loaded,
            rejected=rejected,
            message=message,
            when=when,
            table=table.name,
            problems=problems,
        ),
        encoding="utf-8",
    )
    return page
