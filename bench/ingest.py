"""The parking feed at district scale: full ingest versus a plain COPY of the same rows."""

from __future__ import annotations

import shutil
import time
from contextlib import contextmanager

from bench import Context, derived, measurement
from synthetic.manifest import MANIFEST_NAME

FEED = "parking"


def parking_file(ctx: Context):
    """The big parking file of the district (the one the manifest calls data, most rows)."""
    import json

    manifest = json.loads((ctx.district / MANIFEST_NAME).read_text(encoding="utf-8"))
    entry = max(
        (f for f in manifest["files"] if f["feed"] == FEED and f["kind"] == "data"), key=lambda f: f["rows"]
    )
    return ctx.district / FEED / entry["file"], entry["rows"]


PROFILE_MIN_SECONDS = 0.005  # statements that took less in all are left out of the report


@contextmanager
def statement_times(started: list[float]):
    """Each SQL statement the ingest runs, on every connection it opens (through
    `warehouse.connect`): where its time went, for the report. Yields the list it fills, one
    entry per connection (numbered in the order they are opened) and statement text (without
    its values): {"connection", "statement", "times", "seconds" (all of them), "at_s" (when
    the first began, after started[0], which the caller may set once it is about to start)}."""
    import psycopg2.extensions

    from xinyong.runtime import warehouse

    found: list[dict] = []
    opened: list = []

    class TimedCursor(psycopg2.extensions.cursor):
        def _timed(self, statement, call):
            began = time.perf_counter()
            try:
                return call()
            finally:
                seconds = time.perf_counter() - began
                text = " ".join(str(statement).split())[:90]
                connection = opened.index(self.connection) + 1
                same = next(
                    (f for f in found if (f["connection"], f["statement"]) == (connection, text)), None
                )
                if same is None:  # the side connection sends one statement many times: one entry
                    same = {
                        "connection": connection,
                        "at_s": round(began - started[0], 3),
                        "times": 0,
                        "seconds": 0.0,
                        "statement": text,
                    }
                    found.append(same)
                same["times"] += 1
                same["seconds"] = round(same["seconds"] + seconds, 3)

        def execute(self, query, vars=None):
            return self._timed(query, lambda: super(TimedCursor, self).execute(query, vars))

        def copy_expert(self, sql, file, size=8192):
            return self._timed(sql, lambda: super(TimedCursor, self).copy_expert(sql, file, size))

    original = warehouse.connect

    def connect(warehouse_url=None):
        conn = original(warehouse_url)
        conn.cursor_factory = TimedCursor
        opened.append(conn)
        return conn

    warehouse.connect = connect
    try:
        yield found
    finally:
        warehouse.connect = original


@measurement("parking_copy", "plain COPY of the parking file into a typed table (the physical limit)")
def parking_copy(ctx: Context) -> dict:
    from xinyong.ingest import contracts
    from xinyong.runtime import warehouse

    path, _ = parking_file(ctx)
    contract = contracts.load(FEED)
    columns = ", ".join(f"{c.name} {c.sql_type}" for c in contract.columns)
    with warehouse.transaction(ctx.warehouse_url) as conn, conn.cursor() as cur:
        cur.execute(f"create table public.parking_copy ({columns})")
    conn = warehouse.connect(ctx.warehouse_url)
    try:
        with conn, conn.cursor() as cur, path.open("rb") as fh:
            started = time.perf_counter()
            # ON_ERROR ignore (PostgreSQL 17+): a row the types refuse is skipped, not fatal.
            cur.copy_expert(
                "copy public.parking_copy from stdin with (format csv, header true, on_error ignore)",
                fh,
                size=1 << 20,
            )
            rows = cur.rowcount
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    return {"rows": rows, "seconds": seconds, "file_mib": path.stat().st_size / 2**20}


@measurement("parking_ingest", "xinyong ingest of the same file: read, COPY, validate in SQL, load, audit")
def parking_ingest(ctx: Context) -> dict:
    from xinyong import ingest
    from xinyong.ingest import contracts
    from xinyong.runtime import config

    path, _ = parking_file(ctx)
    settings = config.Settings(
        home=ctx.scratch / "home",
        landing=ctx.scratch / "landing",
        warehouse_url=ctx.warehouse_url,
        embedded_port=0,
        evaluation_date=None,
    )
    landing_file = settings.landing / FEED / path.name
    landing_file.parent.mkdir(parents=True)
    shutil.copyfile(path, landing_file)  # the ingest moves its file to the archive
    import pyarrow as pa
    import pyarrow.compute  # noqa: E401,F401  imported once per worker process, not per file

    pa.scalar(0)  # pyarrow imports pandas on its first conversion of a Python value: once per process too

    started = [time.perf_counter()]
    with statement_times(started) as profile:
        started[0] = time.perf_counter()
        outcome = ingest.ingest_file(landing_file, contracts.load(FEED), settings, ctx.warehouse_url)
        seconds = time.perf_counter() - started[0]
    return {
        "profile": profile,
        "rows": outcome.rows_read,
        "seconds": seconds,
        "status": outcome.status,
        "rows_loaded": outcome.rows_loaded,
        "rows_rejected": outcome.rows_rejected,
    }


@derived("ingest_to_copy", "ingest rows/s ÷ plain COPY rows/s", "≥ 0.7")
def ingest_to_copy(results: dict[str, dict]) -> float | None:
    copy, ingest = results.get("parking_copy"), results.get("parking_ingest")
    if not copy or not ingest:
        return None
    return ingest["rows_per_second"] / copy["rows_per_second"]


@derived("ingest_peak_rss_mib", "peak RSS of the ingest process, MiB", "< 1024")
def ingest_peak_rss(results: dict[str, dict]) -> float | None:
    return results["parking_ingest"]["peak_rss_mib"] if "parking_ingest" in results else None
