"""Readers during swaps (issue 11): `bi_reader` and `loan_platform` read the live publication
in a loop, each on a connection of its own, while two publications go live one after the
other. No read fails, and every read sees one whole publication: the tables it read (in
one statement, or in one transaction of several statements) and the schema comment
`xinyong publication <id>` it read with them all belong to the same publication, and equal
what that role reads of it when nothing is moving."""

from __future__ import annotations

import threading
import time
from collections import Counter

import psycopg2
import pytest

from tests.conftest import query, role_url
from xinyong.app import pipeline
from xinyong.publication import publish, roles

pytestmark = pytest.mark.integration

# Each publication speaks for another day, so every row of it differs from the others'
# (`evaluation_date` is a column of each table read here).
DAYS = ["2026-11-22", "2026-11-23", "2026-11-24"]
# The two roles read shared tables in opposite orders: a swap that took the old tables one
# at a time while readers held some deadlocked with them.
READS = {
    "bi_reader": ["entity_credit_profile", "credit_score_explanation", "loan_candidates"],
    "loan_platform": ["loan_candidates", "entity_credit_profile", "black_list"],
}
# The comment as of the statement's snapshot (`'publish'::regnamespace` would be looked up
# before the statement's tables are, so it could name the publication before a swap).
LIVE_COMMENT = """(select obj_description(oid, 'pg_namespace') from pg_namespace where nspname = 'publish')"""


def connect_as(url: str, role: str) -> psycopg2.extensions.connection:
    """A connection as a downstream role: the one place this test logs in as a consumer."""
    return psycopg2.connect(role_url(url, role), application_name=f"xinyong-test-reader-{role}")


def _table_summary(table: str) -> str:
    return f"""(select array[count(*)::text, md5(coalesce(string_agg(t::text, '|' order by t::text), ''))]
               from publish.{table} t)"""


def read_in_one_statement(conn, tables: list[str]) -> tuple[int, tuple]:
    """A consumer's query: every table and the comment in one statement (autocommit)."""
    with conn.cursor() as cur:
        cur.execute(f"select {LIVE_COMMENT}, {', '.join(_table_summary(t) for t in tables)}")
        comment, *summaries = cur.fetchone()
    return int(comment.rsplit(" ", 1)[1]), tuple(tuple(s) for s in summaries)


def read_in_one_transaction(conn, tables: list[str], pause: float = 0.0) -> tuple[int, tuple]:
    """A dashboard's page: one statement per table in one transaction, `pause` seconds
    apart, then the comment."""
    summaries = []
    with conn, conn.cursor() as cur:
        for table in tables:
            cur.execute(f"select {_table_summary(table)}")
            summaries.append(tuple(cur.fetchone()[0]))
            time.sleep(pause)
        cur.execute(f"select {LIVE_COMMENT}")
        comment = cur.fetchone()[0]
    return int(comment.rsplit(" ", 1)[1]), tuple(summaries)


class Reader(threading.Thread):
    """Reads in a loop as `role`; `pause` None: one statement after another, as fast as it
    goes; else transactions of one statement per table, `pause` apart and 4 × `pause` between
    transactions (a person looking at the page)."""

    def __init__(
        self, url: str, role: str, pause: float | None, stop: threading.Event, tables: list[str] | None = None
    ):
        super().__init__(name=f"{role}-{'statements' if pause is None else 'transactions'}", daemon=True)
        self.url, self.role, self.pause, self.stop = url, role, pause, stop
        self.tables = tables or READS[role]
        self.reads: list[tuple[int, tuple]] = []
        self.errors: list[str] = []
        self.slowest = 0.0  # seconds, pauses left out

    def run(self):
        conn = connect_as(self.url, self.role)
        conn.autocommit = self.pause is None
        try:
            while not self.stop.is_set():
                began = time.monotonic()
                try:
                    if self.pause is None:
                        self.reads.append(read_in_one_statement(conn, self.tables))
                    else:
                        self.reads.append(read_in_one_transaction(conn, self.tables, self.pause))
                except psycopg2.Error as exc:
                    self.errors.append(f"{type(exc).__name__}: {str(exc).strip()}")
                    if conn.closed:
                        conn = connect_as(self.url, self.role)
                        conn.autocommit = self.pause is None
                self.slowest = max(
                    self.slowest, time.monotonic() - began - (self.pause or 0) * len(self.tables)
                )
                if self.pause:
                    time.sleep(4 * self.pause)
        finally:
            conn.close()


def publish_for(day: str) -> int:
    return pipeline.publish_candidate(pipeline.audit_candidate(pipeline.build_candidate(day)))[
        "publication_id"
    ]


def test_readers_never_fail_and_always_see_one_whole_publication_through_two_swaps(loaded, monkeypatch):
    url = loaded
    lock_outs = []  # (tries, seconds) of each swap's wait for the readers
    lock_out_readers = publish._lock_out_readers

    def timed(*args, **kwargs):
        began = time.monotonic()
        tries = lock_out_readers(*args, **kwargs)
        lock_outs.append((tries, round(time.monotonic() - began, 3)))
        return tries

    monkeypatch.setattr(publish, "_lock_out_readers", timed)
    monkeypatch.setattr(publish, "READER_WAIT_SECONDS", 60)  # a swap the readers starve fails the test sooner
    expected: dict[tuple[str, int], tuple] = {}

    def remember(publication_id: int) -> None:
        # What each role reads of this publication while nothing moves.
        for role, tables in READS.items():
            conn = connect_as(url, role)
            seen_id, seen = read_in_one_transaction(conn, tables)
            assert read_in_one_statement(conn, tables) == (seen_id, seen)
            conn.close()
            assert seen_id == publication_id
            expected[(role, publication_id)] = seen

    remember(publish_for(DAYS[0]))
    stop = threading.Event()
    # per role: two readers of one statement after another, one of transactions held open a while
    readers = [Reader(url, role, pause, stop) for role in READS for pause in (None, None, 0.05)]
    for reader in readers:
        reader.start()
    swaps = []
    try:
        time.sleep(1)
        for day in DAYS[1:]:
            began = time.monotonic()
            publication_id = publish_for(day)
            remember(publication_id)
            swaps.append((publication_id, time.monotonic() - began))
            time.sleep(1)  # readers go on reading the new publication
    finally:
        stop.set()
        for reader in readers:
            reader.join(timeout=60)

    assert not any(reader.is_alive() for reader in readers)
    errors = Counter(error for reader in readers for error in reader.errors)
    assert not errors, errors
    seen_by = Counter()
    for reader in readers:
        for publication_id, seen in reader.reads:
            # one whole publication: every table of the transaction and the comment agree
            assert seen == expected[(reader.role, publication_id)], (reader.role, publication_id)
            seen_by[(reader.role, publication_id)] += 1
    # the readers read all three publications, each role each of them
    assert set(seen_by) == set(expected), seen_by
    assert query(
        url, "select count(*) from audit.publications where status in ('published', 'superseded')"
    ) == [(3,)]
    print(
        f"\nreads per (role, publication): {dict(seen_by)}; slowest read (s): "
        f"{[(r.name, len(r.reads), round(r.slowest, 3)) for r in readers]}; swaps (id, s incl. build): {swaps}; "
        f"waits for readers (tries, s): {lock_outs}"
    )


def test_a_reader_that_never_ends_its_transaction_makes_the_swap_give_up_not_hang(warehouse_url):
    """A dashboard left `idle in transaction` on the live publication: the swap gives way
    to the other readers while it waits, gives up after its wait naming the reader, leaves
    the old publication live and its attempt undecided (the next run builds again)."""
    url = warehouse_url
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        for schema in (publish.LIVE, publish.CANDIDATE):
            cur.execute(f"create schema {schema}")
            cur.execute(
                f"create table {schema}.entity_credit_profile as select 'e1'::text as entity_key, "
                f"'91500000000000000X'::text as uscc, 'B'::text as tier, 700 as score, %s::text as schema_was",
                (schema,),
            )
            # the swap records what changed (history.record_versions) from these two tables
            cur.execute(
                f"create table {schema}.credit_score_explanation as select 'e1'::text as entity_key, "
                f"'BASE'::text as rule_id, 700 as points, null::text as source_file, null::bigint as source_row"
            )
        cur.execute(f"comment on schema {publish.LIVE} is 'xinyong publication 0'")
        roles.apply(cur, publish.LIVE)
    conn.close()
    attempt = publish.start(url, "2026-11-22")

    idle = connect_as(url, "bi_reader")
    idle.cursor().execute("select count(*) from publish.entity_credit_profile")  # and never ends
    stop = threading.Event()
    other = Reader(url, "bi_reader", None, stop, tables=["entity_credit_profile"])
    other.start()
    began = time.monotonic()
    try:
        with pytest.raises(publish.ReadersHoldPublication) as refused:
            publish.swap(url, attempt, publish.CANDIDATE, {}, {}, reader_wait_seconds=3)
        waited = time.monotonic() - began
    finally:
        stop.set()
        other.join(timeout=30)
    assert 3 <= waited < 8
    assert "bi_reader" in str(refused.value) and "idle in transaction" in str(refused.value)
    # the readers that came meanwhile were served, none kept longer than one try of the swap
    deadlock_ms = query(url, "select setting::int from pg_settings where name = 'deadlock_timeout'")[0][0]
    assert not other.errors and len(other.reads) > 10 and other.slowest < deadlock_ms / 1000, other.slowest
    assert {publication for publication, _ in other.reads} == {0}
    assert query(
        url,
        "select status, reason like 'interrupted: readers kept transactions open%%' "
        "from audit.publications where publication_id = %s",
        (attempt,),
    ) == [("failed", True)]
    assert query(url, "select schema_was from publish.entity_credit_profile") == [(publish.LIVE,)]

    idle.rollback()  # the dashboard lets go: the next try goes through at once
    began = time.monotonic()
    publish.swap(url, publish.start(url, "2026-11-22"), publish.CANDIDATE, {}, {}, reader_wait_seconds=3)
    assert time.monotonic() - began < 2
    assert query(url, "select schema_was from publish.entity_credit_profile") == [(publish.CANDIDATE,)]
    idle.close()
