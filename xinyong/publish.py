"""Publication: swap the audited candidate schema into `publish` in one transaction.

PostgreSQL DDL is transactional, so readers see either the previous publication or the
new one, never a mix. The previous publication is kept as `publish_prev` for rollback.
"""
from __future__ import annotations

import json

from xinyong import warehouse

LIVE, PREVIOUS = "publish", "publish_prev"


def start(warehouse_url: str, evaluation_date: str) -> int:
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        warehouse.bootstrap(conn)
        cur.execute("""insert into audit.publications (status, evaluation_date)
                       values ('running', %s) returning publication_id""", (evaluation_date,))
        return cur.fetchone()[0]


def fail(warehouse_url: str, publication_id: int, reason: str, gate_results: dict | None = None,
         artifacts: dict | None = None) -> None:
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute("""update audit.publications set status = 'failed', finished_at = now(), reason = %s,
                           gate_results = %s, artifacts = %s where publication_id = %s""",
                    (reason, json.dumps(gate_results or {}, ensure_ascii=False),
                     json.dumps(artifacts or {}, ensure_ascii=False), publication_id))


def _schema_exists(cur, name: str) -> bool:
    cur.execute("select 1 from pg_namespace where nspname = %s", (name,))
    return cur.fetchone() is not None


def _row_counts(cur, schema: str) -> dict[str, int]:
    cur.execute("""select table_name from information_schema.tables
                   where table_schema = %s and table_type = 'BASE TABLE' order by 1""", (schema,))
    counts = {}
    for (table,) in cur.fetchall():
        cur.execute(f'select count(*) from "{schema}"."{table}"')
        counts[table] = cur.fetchone()[0]
    return counts


def swap(warehouse_url: str, publication_id: int, candidate: str, gate_results: dict,
         artifacts: dict) -> dict[str, int]:
    """Make the candidate live, atomically; the old live schema becomes the previous one."""
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        # Serialise publishers; a second one waits and then swaps its own candidate.
        cur.execute("select pg_advisory_xact_lock(hashtext('xinyong.publish'))")
        if not _schema_exists(cur, candidate):
            raise RuntimeError(f"candidate schema {candidate} does not exist")
        counts = _row_counts(cur, candidate)
        cur.execute(f"drop schema if exists {PREVIOUS} cascade")
        if _schema_exists(cur, LIVE):
            cur.execute(f"alter schema {LIVE} rename to {PREVIOUS}")
        cur.execute(f"alter schema {candidate} rename to {LIVE}")
        cur.execute(f"comment on schema {LIVE} is %s", (f"xinyong publication {publication_id}",))
        cur.execute("""update audit.publications set status = 'superseded'
                       where status = 'published'""")
        cur.execute("""update audit.publications set status = 'published', finished_at = now(),
                           gate_results = %s, row_counts = %s, artifacts = %s where publication_id = %s""",
                    (json.dumps(gate_results, ensure_ascii=False), json.dumps(counts),
                     json.dumps(artifacts, ensure_ascii=False), publication_id))
        return counts


def current(warehouse_url: str) -> dict | None:
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        warehouse.bootstrap(conn)
        cur.execute("""select publication_id, finished_at, evaluation_date, row_counts from audit.publications
                       where status = 'published' order by publication_id desc limit 1""")
        row = cur.fetchone()
    if row is None:
        return None
    return {"publication_id": row[0], "finished_at": row[1], "evaluation_date": row[2], "row_counts": row[3]}
