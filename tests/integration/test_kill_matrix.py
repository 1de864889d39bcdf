"""Kill -9 at every step of a daily run, then run again: every loaded row ends up published
exactly once, no attempt is left `running`, landing, archive, audit, outbox and report
agree (issue 11).

One chain, to stay within CI time: a district published once holds two files back, then
each run is killed at the next point, so each run is the rerun after the previous kill and
must get past it to be killed where it is (its exit by SIGKILL at that point proves it).
The held-back CSV takes the bulk path, the held-back XLSX the general one, so `ingest:mid_copy`
is killed in both COPYs. A warehouse point costs a `dbt build` in the killed run; the chain
builds five times in all (template, then four), where a fresh district per point built
about twice per point.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest

from tests.conftest import EVALUATION_DATE, SAMPLES, drop_samples, query
from xinyong.publication import publish
from xinyong.runtime import faults

pytestmark = [pytest.mark.integration, pytest.mark.faults]
BULK_FILE = "parking_20261121.csv"  # plain rows: the bulk path's COPY
GENERAL_FILE = "rural_cooperative_20261120.xlsx"  # read in Python: the general path's COPY
HELD_BACK = [BULK_FILE, GENERAL_FILE]  # in feed order: parking comes first

# Each run of the chain with the point it is killed at; `#2`: the second time it is reached.
CHAIN = [
    ("ingest:mid_copy", BULK_FILE),  # parking's bulk COPY has sent its first block
    ("ingest:mid_copy#2", GENERAL_FILE),  # parking loads; the XLSX's COPY is killed
    ("ingest:before_audit", GENERAL_FILE),
    ("build:after_dbt", None),
    ("gate:after_checkpoint", None),
    ("swap:between_renames", None),
    ("publish:before_outbox", None),  # the new publication is live from here on
    ("outbox:writing", None),
    ("report:writing", None),
]

# What one daily run does, step by step, as the DAGs do it (without Airflow's scheduling).
DAILY_RUN = f"""
from xinyong import ingest
from xinyong.app import pipeline
from xinyong.ingest import contracts
for contract in contracts.load_all().values():
    ingest.ingest_feed(contract)
day = pipeline.resolve_evaluation_date({EVALUATION_DATE!r})
if pipeline.build_reason(day):
    pipeline.publish_candidate(pipeline.audit_candidate(pipeline.build_candidate(day)))
else:
    pipeline.complete_delivery()
print("run finished")
"""


def daily_run(env: dict, fault: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", DAILY_RUN],
        env={**os.environ, **env, **({faults.FAULT_ENV: fault} if fault else {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


def live_publication(url: str) -> str | None:
    rows = query(
        url, "select obj_description(oid, 'pg_namespace') from pg_namespace where nspname = 'publish'"
    )
    return rows[0][0] if rows else None


@pytest.fixture
def district(pg_server, tmp_path):
    """The samples but the held-back files, published once; then the held-back files land."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg_server.create_database(name)
    env = {
        "XINYONG_WAREHOUSE_URL": pg_server.url(name),
        "XINYONG_HOME": str(tmp_path / "home"),
        "XINYONG_LANDING": str(tmp_path / "landing"),
        "XINYONG_OUTBOX": str(tmp_path / "home" / "outbox"),
    }
    (tmp_path / "landing").mkdir()
    drop_samples(tmp_path / "landing", [p.name for p in SAMPLES.iterdir() if p.name not in HELD_BACK])
    first = daily_run(env)
    assert first.returncode == 0 and "run finished" in first.stdout, first.stderr[-3000:]
    drop_samples(tmp_path / "landing", HELD_BACK)
    yield env, tmp_path
    pg_server.admin(f'drop database "{name}" with (force)')


def raw_rows_of(url: str, feed: str, file_name: str) -> int:
    return query(url, f"select count(*) from raw.{feed} where _source_file = %s", (file_name,))[0][0]


def test_a_kill_at_any_step_is_completed_by_the_next_run(district):
    env, base = district
    url = env["XINYONG_WAREHOUSE_URL"]
    published_before = live_publication(url)
    timings = []
    for point, file_name in CHAIN:
        began = time.monotonic()
        killed = daily_run(env, fault=point)
        timings.append((point, round(time.monotonic() - began, 1)))
        assert killed.returncode == -9, (point, killed.stdout, killed.stderr[-3000:])
        if file_name:  # killed inside the file's transaction: nothing of it stays, it waits in landing
            feed = file_name.rsplit("_", 1)[0]
            assert query(url, "select count(*) from audit.feed_files where file_name = %s", (file_name,)) == [
                (0,)
            ]
            assert raw_rows_of(url, feed, file_name) == 0
            assert (base / "landing" / feed / file_name).exists()
        if point in ("build:after_dbt", "gate:after_checkpoint", "swap:between_renames"):
            assert live_publication(url) == published_before, point  # the live one stays until a swap commits
            # what an ingest run that loads nothing then announces (the Airflow path: dags/ingest_feeds.py)
            assert publish.files_awaiting_build(url), point
        # an attempt killed in the warehouse steps stays `running` until the next run marks it
        left_running = (
            1 if point in ("build:after_dbt", "gate:after_checkpoint", "swap:between_renames") else 0
        )
        assert query(url, "select count(*) from audit.publications where status = 'running'") == [
            (left_running,)
        ]

    began = time.monotonic()
    rerun = daily_run(env)
    timings.append(("rerun", round(time.monotonic() - began, 1)))
    assert rerun.returncode == 0 and "run finished" in rerun.stdout, rerun.stderr[-3000:]

    # nothing left running; the live publication read every loaded file
    assert query(url, "select count(*) from audit.publications where status = 'running'") == [(0,)]
    live, read_up_to = query(
        url,
        """select publication_id, input_file_id from audit.publications
                                     where status = 'published'""",
    )[0]
    assert live_publication(url) == f"xinyong publication {live}" != published_before
    assert (
        read_up_to
        == query(
            url,
            """select max(file_id) from audit.feed_files
                                       where status in ('loaded', 'loaded_with_rejects')""",
        )[0][0]
    )
    # each held-back file: loaded exactly once, its rows in raw once, archived, gone from landing
    for file_name in HELD_BACK:
        feed = file_name.rsplit("_", 1)[0]
        assert query(
            url, "select status, rows_loaded from audit.feed_files where file_name = %s", (file_name,)
        ) == [("loaded", raw_rows_of(url, feed, file_name))], file_name
        assert raw_rows_of(url, feed, file_name) > 0
        assert not (base / "landing" / feed / file_name).exists()
        assert (base / "home" / "archive" / feed / file_name).exists()
    # landing, archive and quarantine agree with the audit: every file processed once, in one place
    assert not [p for p in (base / "landing").rglob("*") if p.is_file()]
    filed = sorted(p.name for p in (base / "home").glob("archive/*/*")) + sorted(
        p.name for p in (base / "home").glob("quarantine/*/*")
    )
    assert sorted(filed) == sorted(p.name for p in SAMPLES.iterdir() if p.suffix in (".csv", ".xlsx"))
    assert sorted(filed) == sorted(name for (name,) in query(url, "select file_name from audit.feed_files"))
    # every parking record known on the evaluation date is counted once in the published scores
    records = query(
        url, "select count(distinct record_no) from raw.parking where _as_of <= %s", (EVALUATION_DATE,)
    )
    assert query(url, "select sum(record_count) from publish.parking_credit") == records
    # the held-back cooperatives are scored from their file (each has its evaluation's rule hit)
    assert (
        query(
            url,
            "select count(*) from publish.credit_score_explanation where source_file = %s",
            (GENERAL_FILE,),
        )[0][0]
        > 0
    )
    # the live publication's outbox and report exist, whole
    artifacts = query(url, "select artifacts from audit.publications where publication_id = %s", (live,))[0][
        0
    ]
    assert artifacts["outbox"] and all(
        os.path.exists(os.path.join(folder, "manifest.json")) for folder in artifacts["outbox"].values()
    )
    assert os.path.exists(artifacts["report"])
    assert not list((base / "home").rglob(".*.tmp-*"))  # no half-written folder or page left
    # and a further run finds nothing to do
    began = time.monotonic()
    again = daily_run(env)
    timings.append(("nothing to do", round(time.monotonic() - began, 1)))
    assert again.returncode == 0
    assert query(url, "select max(publication_id) from audit.publications")[0][0] == live
    assert not publish.files_awaiting_build(url)
    print("\nseconds per run:", timings)
