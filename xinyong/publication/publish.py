"""Publication: swap the audited candidate schema into `publish` in one transaction.

PostgreSQL DDL is transactional, so readers see either the previous publication or the
new one, never a mix; a process killed inside the swap leaves the old one (the server
rolls the transaction back). A reader's transaction sees one publication from its first
read of a `publish` table to its end: the swap first takes every live table ACCESS
EXCLUSIVE (`_lock_out_readers`), so it waits for the transactions reading them, and those
that start meanwhile wait for it, then read the new publication. Each try is bounded below
the server's `deadlock_timeout`, so a reader waiting on the swap never gets a deadlock
error (a swap that took the tables one at a time, mid-transaction, did); the swap gives
way and tries again, for at most `READER_WAIT_SECONDS`, then names the readers and leaves
the old publication (`tests/integration/test_readers_during_swaps.py`).
Grants are re-applied in the same transaction. The previous
publication is kept as `publish_prev` for `rollback()`. A candidate whose only gate
failures are approvable is kept as `publish_held_<id>` (renamed, so the next build cannot
drop it) until a person approves it with `approve()` or a newer publication goes live.
Every attempt, approval and rollback is a row (or an update of one) in audit.publications.
"""

from __future__ import annotations

import getpass
import json
import os
import random
import time
from contextlib import contextmanager

import psycopg2
from psycopg2 import sql

from xinyong.ingest import schema
from xinyong.publication import history, roles
from xinyong.publication.schemas import CANDIDATE, HELD_PREFIX, LIVE, PREVIOUS, ROLLED_BACK  # noqa: F401
from xinyong.runtime import faults, warehouse


class PublishError(RuntimeError):
    """A publication command that cannot be done, in one sentence."""


def _json(value) -> str:
    return json.dumps(value or {}, ensure_ascii=False, default=str)


INTERRUPTED = "interrupted: the run stopped before it finished (the live publication was not changed)"
# An attempt whose reason starts so came to no verdict: the next run builds again.
UNDECIDED = "interrupted:%"
# How long, in all, a swap waits for readers' open transactions on the live publication.
READER_WAIT_SECONDS = 300
LOADED_HIGH_WATER_MARK = """select coalesce(max(file_id), 0) from audit.feed_files
                            where status in ('loaded', 'loaded_with_rejects')"""
# A case opened or decided (xinyong/app/cases.py) brings no file, yet the next attempt must
# read it: its flag or its correction is published from then on.
CASE_HIGH_WATER_MARK = "select coalesce(max(event_id), 0) from audit.case_events"


def start(warehouse_url: str, evaluation_date: str) -> int:
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        schema.ensure(conn)
        # One warehouse run at a time (max_active_runs=1): a 'running' row left now was killed.
        cur.execute(
            """update audit.publications set status = 'failed', finished_at = now(), reason = %s
                       where status = 'running'""",
            (INTERRUPTED,),
        )
        cur.execute(
            f"""insert into audit.publications (status, evaluation_date, input_file_id, input_case_event_id)
                        values ('running', %s, ({LOADED_HIGH_WATER_MARK}), ({CASE_HIGH_WATER_MARK}))
                        returning publication_id""",
            (evaluation_date,),
        )
        return cur.fetchone()[0]


def _last_decision(cur) -> tuple[int, tuple | None]:
    """The newest loaded file id, and the last attempt that came to a verdict (id, status,
    evaluation date, newest file it read, newest case event it read), or None."""
    cur.execute(LOADED_HIGH_WATER_MARK)
    newest_file = cur.fetchone()[0]
    cur.execute(
        """select publication_id, status, evaluation_date::text, coalesce(input_file_id, 0),
                          coalesce(input_case_event_id, 0)
                   from audit.publications
                   where status <> 'running' and coalesce(reason, '') not like %s
                   order by publication_id desc limit 1""",
        (UNDECIDED,),
    )
    return newest_file, cur.fetchone()


def build_reason(warehouse_url: str, evaluation_date: str) -> str | None:
    """Why the warehouse must be built for `evaluation_date`, or None when the last attempt
    that came to a verdict (published, or stopped by a gate or dbt) already read every loaded
    file for that same day. An interrupted attempt decided nothing, so it does not count:
    rows loaded before a kill are built by the next run, and a failed gate is not retried
    until new data or a new day arrives."""
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        newest_file, last = _last_decision(cur)
        cur.execute(CASE_HIGH_WATER_MARK)
        newest_case_event = cur.fetchone()[0]
    if last is None:
        return "no publication yet" if newest_file else None
    publication_id, status, day, read_up_to, cases_read_up_to = last
    if newest_file > read_up_to:
        return f"files loaded since attempt {publication_id} (newest file id {newest_file}, it read up to {read_up_to})"
    if newest_case_event > cases_read_up_to:
        return f"cases opened or decided since attempt {publication_id} (case event {newest_case_event})"
    if day != evaluation_date:
        return f"the evaluation date moved from {day} to {evaluation_date} (attempt {publication_id})"
    return None


def files_awaiting_build(warehouse_url: str) -> bool:
    """Whether a loaded file has not been read by an attempt that came to a verdict (loaded
    by this run, or by one killed before it could announce it)."""
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        newest_file, last = _last_decision(cur)
    return newest_file > (last[3] if last else 0)


def record(
    warehouse_url: str, publication_id: int, artifacts: dict | None = None, gate_results: dict | None = None
) -> None:
    """Merge artifact locations / gate results into the attempt's row as they appear."""
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute(
            """update audit.publications
                       set artifacts = coalesce(artifacts, '{}'::jsonb) || %s::jsonb,
                           gate_results = coalesce(gate_results, '{}'::jsonb) || %s::jsonb
                       where publication_id = %s""",
            (_json(artifacts), _json(gate_results), publication_id),
        )


def recorded_row_counts(cur, schema: str) -> dict[str, int]:
    """The row counts of `schema` as recorded when the publication it holds was swapped in or
    held (its tables are not written after), else counted: a city's publication counts some
    40 M rows, which the swap has just done."""
    publication_id = _publication_of(cur, schema)
    if publication_id is not None:
        cur.execute("select row_counts from audit.publications where publication_id = %s", (publication_id,))
        row = cur.fetchone()
        if row and row[0]:
            return row[0]
    return row_counts(cur, schema)


def _schema_exists(cur, name: str) -> bool:
    cur.execute("select 1 from pg_namespace where nspname = %s", (name,))
    return cur.fetchone() is not None


def row_counts(cur, schema: str) -> dict[str, int]:
    cur.execute(
        """select table_name from information_schema.tables
                   where table_schema = %s and table_type in ('BASE TABLE', 'VIEW') order by 1""",
        (schema,),
    )
    counts = {}
    for (table,) in cur.fetchall():
        cur.execute(f'select count(*) from "{schema}"."{table}"')
        counts[table] = cur.fetchone()[0]
    return counts


def _drop_held(cur, keep: str | None = None) -> None:
    cur.execute("select nspname from pg_namespace where nspname like %s", (HELD_PREFIX + "%",))
    for (name,) in cur.fetchall():
        if name != keep:
            cur.execute(f'drop schema "{name}" cascade')


def fail(
    warehouse_url: str,
    publication_id: int,
    reason: str,
    gate_results: dict | None = None,
    artifacts: dict | None = None,
    hold: bool = False,
) -> str | None:
    """Record a failed attempt; `hold` keeps an approvable candidate as publish_held_<id>."""
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('xinyong.publish'))")
        counts = row_counts(cur, CANDIDATE) if _schema_exists(cur, CANDIDATE) else {}
        held = None
        if hold and _schema_exists(cur, CANDIDATE):
            held = f"{HELD_PREFIX}{publication_id}"
            _drop_held(cur)
            cur.execute(f'alter schema {CANDIDATE} rename to "{held}"')
            roles.revoke(cur, held)
        cur.execute(
            """update audit.publications set status = 'failed', finished_at = now(), reason = %s,
                           gate_results = coalesce(gate_results, '{}'::jsonb) || %s::jsonb,
                           artifacts = coalesce(artifacts, '{}'::jsonb) || %s::jsonb,
                           row_counts = %s, held_schema = %s
                       where publication_id = %s""",
            (reason, _json(gate_results), _json(artifacts), _json(counts), held, publication_id),
        )
        return held


def _publication_of(cur, schema: str) -> int | None:
    cur.execute("select obj_description(oid, 'pg_namespace') from pg_namespace where nspname = %s", (schema,))
    row = cur.fetchone()
    if row and row[0] and row[0].startswith("xinyong publication "):
        return int(row[0].rsplit(" ", 1)[1])
    return None


@contextmanager
def live_snapshot(warehouse_url: str, publication_id: int):
    """A read-only cursor on one snapshot of `publish`, which must hold `publication_id`: what
    is delivered of a publication (outbox, department lists) comes from it whole, even if a
    swap commits meanwhile."""
    conn = warehouse.connect(warehouse_url)
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn.cursor() as cur:
            live = _publication_of(cur, LIVE)
            if live != publication_id:
                raise RuntimeError(f"publication {publication_id} is not the live one (live: {live})")
            yield cur
        conn.rollback()
    finally:
        conn.close()


class ReadersHoldPublication(PublishError):
    """Readers kept transactions open on the live publication for longer than the swap waits."""


def _readers_holding(cur, schemas: tuple[str, ...]) -> str:
    cur.execute(
        """select distinct l.pid, a.usename, a.application_name, a.state,
                          to_char(a.xact_start, 'HH24:MI:SS')
                   from pg_locks l join pg_class c on c.oid = l.relation
                   join pg_namespace n on n.oid = c.relnamespace
                   join pg_stat_activity a on a.pid = l.pid
                   where n.nspname = any(%s) and l.granted and l.pid <> pg_backend_pid()
                   order by 1 limit 10""",
        (list(schemas),),
    )
    return (
        "; ".join(
            f"pid {pid} {user} ({app or 'no application name'}, {state}, in a transaction since {since})"
            for pid, user, app, state, since in cur.fetchall()
        )
        or "none left"
    )


def _wait_for_a_gap(cur, schemas: tuple[str, ...], seconds: float) -> None:
    """Wait, for at most `seconds`, until no reader of `schemas` is inside a transaction of
    several statements (between them, or at its second or later one). Such a reader may ask
    next for a table the swap has already taken, and the try would wait for it in vain; a
    try begun in a gap only waits for single statements, which end."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        cur.execute("select pg_stat_clear_snapshot()")  # the statistics snapshot lasts the transaction
        cur.execute(
            """select exists(select from pg_locks l join pg_class c on c.oid = l.relation
                             join pg_namespace n on n.oid = c.relnamespace
                             join pg_stat_activity a on a.pid = l.pid
                             where n.nspname = any(%s) and l.granted and l.pid <> pg_backend_pid()
                               and (a.state like 'idle in transaction%%' or a.xact_start < a.query_start))""",
            (list(schemas),),
        )
        if not cur.fetchone()[0]:
            return
        time.sleep(0.01)


def _lock_without_waiting(cur, lock: sql.Composed, seconds: float) -> bool:
    """Try `lock` NOWAIT again and again for `seconds`: it takes all the tables in an instant
    no reader holds any, or none, so it never holds one table while waiting for another
    (the wait a reader mid-transaction can turn into a deadlock)."""
    nowait = lock + sql.SQL(" nowait")
    deadline = time.monotonic() + seconds
    while True:
        cur.execute("savepoint lock_without_waiting")
        try:
            cur.execute(nowait)
        except psycopg2.errors.LockNotAvailable:
            cur.execute("rollback to savepoint lock_without_waiting")
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.002)
            continue
        cur.execute("release savepoint lock_without_waiting")
        return True


def _lock_out_readers(cur, schemas: tuple[str, ...], wait_seconds: float | None = None) -> int:
    """Take every table of `schemas` ACCESS EXCLUSIVE before the swap changes anything.

    Readers' open transactions finish first; new ones queue behind the swap and, once it
    commits, read the new publication. Each try begins, if one comes within 2 s, in a gap
    when no reader is inside a transaction of several statements, and first tries NOWAIT
    for 0.3 s (all tables in an instant no reader holds one). Then it queues, for at most
    half the server's `deadlock_timeout`: a reader holding one table and waiting for
    another the swap has taken is let through (the swap gives way, then tries again)
    before the server's deadlock check would cancel either side. After `wait_seconds` in
    all, give up.
    Returns the number of tries."""
    cur.execute(
        """select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
                   where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm') order by 1, 2""",
        (list(schemas),),
    )
    tables = [sql.Identifier(*name) for name in cur.fetchall()]
    if not tables:
        return 0
    cur.execute("select setting::int from pg_settings where name = 'deadlock_timeout'")
    try_ms = max(20, cur.fetchone()[0] // 2)
    cur.execute("show statement_timeout")
    statement_timeout = cur.fetchone()[0]
    deadline = time.monotonic() + (READER_WAIT_SECONDS if wait_seconds is None else wait_seconds)
    lock = sql.SQL("lock table {} in access exclusive mode").format(sql.SQL(", ").join(tables))
    tries = 0
    while True:
        tries += 1
        _wait_for_a_gap(cur, schemas, min(2.0, max(0.0, deadline - time.monotonic())))
        if _lock_without_waiting(cur, lock, seconds=0.3):
            return tries
        cur.execute("savepoint lock_out_readers")
        cur.execute("select set_config('statement_timeout', %s, true)", (f"{try_ms}ms",))
        try:
            cur.execute(lock)
        except (psycopg2.errors.QueryCanceled, psycopg2.errors.LockNotAvailable):
            cur.execute("rollback to savepoint lock_out_readers")
            if time.monotonic() >= deadline:
                raise ReadersHoldPublication(
                    f"readers kept transactions open on {', '.join(schemas)} for longer than the swap waits "
                    f"({tries} tries): {_readers_holding(cur, schemas)}; the live publication was not changed"
                ) from None
            # The readers queued behind this try go first; a random pause keeps the tries out
            # of step with readers that loop (each try's failure would set their rhythm).
            time.sleep(random.uniform(0.5, 1.0) * min(1.0, 0.02 * tries))
            continue
        cur.execute("select set_config('statement_timeout', %s, true)", (statement_timeout,))
        cur.execute("release savepoint lock_out_readers")
        return tries


def swap(
    warehouse_url: str,
    publication_id: int,
    candidate: str,
    gate_results: dict,
    artifacts: dict,
    approval: dict | None = None,
    reader_wait_seconds: float | None = None,
) -> dict[str, int]:
    """Make the candidate live, atomically, with grants; the old live schema becomes the previous one."""
    try:
        return _swap(
            warehouse_url, publication_id, candidate, gate_results, artifacts, approval, reader_wait_seconds
        )
    except ReadersHoldPublication as exc:
        # No verdict on the candidate: the next run builds and tries again.
        with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
            cur.execute(
                """update audit.publications set status = 'failed', finished_at = now(), reason = %s
                           where publication_id = %s and status = 'running'""",
                (f"interrupted: {exc}", publication_id),
            )
        raise


def _swap(
    warehouse_url: str,
    publication_id: int,
    candidate: str,
    gate_results: dict,
    artifacts: dict,
    approval: dict | None,
    reader_wait_seconds: float | None,
) -> dict[str, int]:
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        # Serialise publishers; a second one waits and then swaps its own candidate.
        cur.execute("select pg_advisory_xact_lock(hashtext('xinyong.publish'))")
        if not _schema_exists(cur, candidate):
            raise PublishError(f"candidate schema {candidate} does not exist")
        counts = row_counts(cur, candidate)  # before readers are kept waiting
        # What changed, from the candidate nobody reads yet: readers do not wait for it.
        versions = history.record_versions(cur, candidate, publication_id)
        _lock_out_readers(cur, (LIVE, PREVIOUS), reader_wait_seconds)
        cur.execute(f"drop schema if exists {PREVIOUS} cascade")
        if _schema_exists(cur, LIVE):
            cur.execute(f"alter schema {LIVE} rename to {PREVIOUS}")
        faults.inject("swap:between_renames")
        cur.execute(f'alter schema "{candidate}" rename to {LIVE}')
        cur.execute(f"comment on schema {LIVE} is %s", (f"xinyong publication {publication_id}",))
        history.went_live(cur, publication_id)
        granted = roles.apply(cur, LIVE)
        roles.revoke(cur, PREVIOUS)
        _drop_held(cur)  # a held candidate older than what is now live can no longer be approved
        cur.execute("""update audit.publications set status = 'superseded'
                       where status = 'published'""")
        approval = approval or {}
        cur.execute(
            """update audit.publications set status = 'published', finished_at = now(),
                           gate_results = coalesce(gate_results, '{}'::jsonb) || %s::jsonb, row_counts = %s,
                           artifacts = coalesce(artifacts, '{}'::jsonb) || %s::jsonb,
                           held_schema = null, approved_by = %s, approved_reason = %s,
                           approved_at = case when %s::text is null then null else now() end
                       where publication_id = %s""",
            (
                _json(gate_results),
                _json(counts),
                _json({**artifacts, "grants": granted, "history_versions": versions}),
                approval.get("by"),
                approval.get("reason"),
                approval.get("by"),
                publication_id,
            ),
        )
        return counts


def approve(warehouse_url: str, publication_id: int, reason: str, by: str | None = None) -> dict:
    """Release a held candidate whose only gate failures are approvable; the approval is recorded."""
    if not (reason or "").strip():
        raise PublishError('an approval needs a reason (--reason "...")')
    by = by or os.environ.get("XINYONG_APPROVER") or getpass.getuser()
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute(
            """select status, held_schema, gate_results, evaluation_date from audit.publications
                       where publication_id = %s""",
            (publication_id,),
        )
        row = cur.fetchone()
        if row is None:
            raise PublishError(f"there is no publication attempt {publication_id}")
        status, held, gate_results, evaluation_date = row
        if status != "failed":
            raise PublishError(f"attempt {publication_id} is {status}; only a failed attempt can be approved")
        failures = ((gate_results or {}).get("gx") or {}).get("failures") or []
        blocking = [f for f in failures if not f.get("approvable")]
        if (gate_results or {}).get("dbt", {}).get("success") is False or blocking or not failures:
            names = ", ".join(sorted({f"{f['asset']}: {f['expectation']}" for f in blocking})) or "dbt build"
            raise PublishError(
                f"attempt {publication_id} failed gates that no approval can release ({names}); "
                "fix the data or the model and run again"
            )
        if not held or not _schema_exists(cur, held):
            raise PublishError(
                f"the candidate of attempt {publication_id} is no longer kept "
                "(a newer publication went live or a newer attempt was held); run again"
            )
        gate_results = {
            **gate_results,
            "approval": {"by": by, "reason": reason, "released": [f["expectation"] for f in failures]},
        }
    counts = swap(
        warehouse_url, publication_id, held, gate_results, {}, approval={"by": by, "reason": reason}
    )
    return {
        "publication_id": publication_id,
        "approved_by": by,
        "row_counts": counts,
        "evaluation_date": evaluation_date,
    }


def rollback(warehouse_url: str, by: str | None = None) -> dict:
    """Put the previous publication back in one transaction; the rolled-back one is set apart."""
    by = by or os.environ.get("XINYONG_APPROVER") or getpass.getuser()
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('xinyong.publish'))")
        if not _schema_exists(cur, PREVIOUS):
            raise PublishError("there is no previous publication to roll back to")
        live_id, previous_id = _publication_of(cur, LIVE), _publication_of(cur, PREVIOUS)
        _lock_out_readers(cur, (LIVE, PREVIOUS, ROLLED_BACK))
        cur.execute(f"drop schema if exists {ROLLED_BACK} cascade")
        if _schema_exists(cur, LIVE):
            cur.execute(f"alter schema {LIVE} rename to {ROLLED_BACK}")
        cur.execute(f"alter schema {PREVIOUS} rename to {LIVE}")
        if previous_id is not None:
            history.went_live(cur, previous_id, "rolled_back_to")
        roles.apply(cur, LIVE)
        roles.revoke(cur, ROLLED_BACK)
        cur.execute(
            """update audit.publications set status = 'rolled_back', rolled_back_by = %s,
                           rolled_back_at = now() where publication_id = %s""",
            (by, live_id),
        )
        cur.execute(
            "update audit.publications set status = 'published' where publication_id = %s", (previous_id,)
        )
    return {"restored": previous_id, "rolled_back": live_id, "by": by}


def current(warehouse_url: str) -> dict | None:
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute("""select publication_id, finished_at, evaluation_date, row_counts, artifacts
                       from audit.publications
                       where status = 'published' order by publication_id desc limit 1""")
        row = cur.fetchone()
    if row is None:
        return None
    return dict(
        zip(
            ["publication_id", "finished_at", "evaluation_date", "row_counts", "artifacts"], row, strict=False
        )
    )
