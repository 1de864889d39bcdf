"""Notifications of a run, mailed through `mailer` (one ledger, nothing sent twice): a file
quarantined or unreadable, a publication held for approval or failed, a feed gone stale.

Who is told is policy (seed `notification_routes`): the department that sends the feed
(`to_sender`) and the departments in `always_to` (the credit office). Events of the last
`mailer.LOOKBACK_DAYS` days are considered; each is keyed by its audit row and recipient.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

from xinyong.ingest import departments
from xinyong.publication import mailer
from xinyong.runtime import config, pages, warehouse
from xinyong.runtime.config import PROJECT_ROOT

SEED = PROJECT_ROOT / "dbt_project" / "seeds" / "notification_routes.csv"


@dataclass(frozen=True)
class Route:
    event: str
    title: str
    to_sender: bool
    always_to: tuple[str, ...]


@cache
def routes() -> dict[str, Route]:
    with SEED.open(encoding="utf-8", newline="") as fh:
        return {
            row["event"]: Route(
                row["event"],
                row["title"],
                row["to_sender"].strip().lower() == "true",
                tuple(c.strip() for c in row["always_to"].split("|") if c.strip()),
            )
            for row in csv.DictReader(fh)
        }


def _recipients(route: Route, feed: str | None) -> list[departments.Department]:
    codes = list(route.always_to)
    if route.to_sender and feed:
        codes.insert(0, departments.sender(feed).department_code)
    known = {d.department_code: d for d in departments.recipients()}
    return [known[code] for code in dict.fromkeys(codes)]


def _events(warehouse_url: str) -> list[dict]:
    lookback = f"now() - interval '{int(mailer.LOOKBACK_DAYS)} days'"
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute(f"""select 'quarantine', 'file:' || file_id, feed, file_name || '：' || coalesce(message, status),
                               report_path, finished_at
                        from audit.feed_files
                        where status in ('quarantined', 'unreadable') and finished_at > {lookback}
                        union all
                        select case when held_schema is not null then 'publication_held'
                                    else 'publication_failed' end,
                               'publication:' || publication_id, null,
                               '发布 ' || publication_id || '（评价基准日 ' || evaluation_date || '）：'
                               || coalesce(reason, ''),
                               artifacts->>'report', finished_at
                        from audit.publications
                        where status = 'failed' and coalesce(reason, '') not like 'interrupted:%'
                              and finished_at > {lookback}
                        union all
                        select 'freshness', 'freshness:' || alert_id, feed, message, null, detected_at
                        from audit.freshness_alerts where detected_at > {lookback}
                        order by 6""")
        names = ("event", "key", "feed", "text", "report", "at")
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def messages(warehouse_url: str, settings: config.Settings) -> list[mailer.Message]:
    out = []
    for event in _events(warehouse_url):
        route = routes()[event["event"]]
        for department in _recipients(route, event["feed"]):
            out.append(
                mailer.Message(
                    key=f"{event['key']}:{department.department_code}",
                    event=event["event"],
                    department=department.department_code,
                    recipient=department.email,
                    subject=f"【{route.title}】{event['text'].splitlines()[0][:120]}",
                    html=pages.render(
                        "xinyong.publication",
                        "mail_notification.html",
                        department=department,
                        route=route,
                        event=event,
                    ),
                )
            )
    return out
