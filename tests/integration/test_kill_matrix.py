"""Kill -9 at every step of a daily run, then run again: every loaded row ends up published
exactly once, no attempt is left `running`, landing, archive and audit agree (issue 11)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid

import pytest

from tests.conftest import EVALUATION_DATE, SAMPLES, drop_samples, query
from xinyong.runtime import faults

pytestmark = [pytest.mark.integration, pytest.mark.faults]
HELD_BACK = "parking_20261121.csv"

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
    return subprocess.run([sys.executable, "-c", DAILY_RUN],
                          env={**os.environ, **env, **({faults.FAULT_ENV: fault} if fault else {})},
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def published_district(pg_server, tmp_path_factory):
    """A template database and home: the samples but one parking file, published once."""
    root = tmp_path_factory.mktemp("kill_template")
    name = f"tmpl_{uuid.uuid4().hex[:10]}"
    pg_server.create_database(name)
    env = {"XINYONG_WAREHOUSE_URL": pg_server.url(name), "XINYONG_HOME": str(root / "home"),
           "XINYONG_LANDING": str(root / "landing"),
           "XINYONG_OUTBOX": str(root / "home" / "outbox")}
    (root / "landing").mkdir()
    drop_samples(root / "landing", [p.name for p in SAMPLES.iterdir() if p.name != HELD_BACK])
    first = daily_run(env)
    assert first.returncode == 0 and "run finished" in first.stdout, first.stderr[-3000:]
    yield pg_server, name, root
    pg_server.admin(f'drop database "{name}" with (force)')


@pytest.fixture
def district(published_district, tmp_path):
    """A copy of the published district (database from the template, folders copied) with
    the held-back parking file waiting in landing."""
    server, template, root = published_district
    name = f"t_{uuid.uuid4().hex[:12]}"
    server.create_database(name, template=template)
    shutil.copytree(root, tmp_path / "d", symlinks=True)
    base = tmp_path / "d"
    env = {"XINYONG_WAREHOUSE_URL": server.url(name), "XINYONG_HOME": str(base / "home"),
           "XINYONG_LANDING": str(base / "landing"), "XINYONG_OUTBOX": str(base / "home" / "outbox")}
    (base / "landing" / "parking").mkdir(exist_ok=True)
    shutil.copy(SAMPLES / HELD_BACK, base / "landing" / "parking" / HELD_BACK)
    yield env, base
    server.admin(f'drop database "{name}" with (force)')


@pytest.mark.parametrize("point", ["ingest:before_audit", "build:after_dbt", "gate:after_checkpoint",
                                   "swap:between_renames", "publish:before_outbox", "outbox:writing",
                                   "report:writing"])
def test_a_kill_at_any_step_is_completed_by_the_next_run(district, point):
    env, base = district
    url = env["XINYONG_WAREHOUSE_URL"]
    killed = daily_run(env, fault=point)
    assert killed.returncode == -9, (point, killed.stdout, killed.stderr[-3000:])

    rerun = daily_run(env)
    assert rerun.returncode == 0 and "run finished" in rerun.stdout, rerun.stderr[-3000:]

    # nothing left running; the live publication read every loaded file
    assert query(url, "select count(*) from audit.publications where status = 'running'") == [(0,)]
    live, read_up_to = query(url, """select publication_id, input_file_id from audit.publications
                                     where status = 'published'""")[0]
    assert read_up_to == query(url, """select max(file_id) from audit.feed_files
                                       where status in ('loaded', 'loaded_with_rejects')""")[0][0]
    # the held-back file: loaded exactly once, archived, gone from landing, its rows published
    assert query(url, "select status from audit.feed_files where file_name = %s", (HELD_BACK,)) == [("loaded",)]
    assert not (base / "landing" / "parking" / HELD_BACK).exists()
    assert (base / "home" / "archive" / "parking" / HELD_BACK).exists()
    # every parking record known on the evaluation date is counted once in the published scores
    records = query(url, "select count(distinct record_no) from raw.parking where _as_of <= %s", (EVALUATION_DATE,))
    assert query(url, "select sum(record_count) from publish.parking_credit") == records
    assert query(url, "select count(*) from raw.parking where _source_file = %s", (HELD_BACK,))[0][0] > 0
    # the live publication's outbox and report exist, whole
    artifacts = query(url, "select artifacts from audit.publications where publication_id = %s", (live,))[0][0]
    assert artifacts["outbox"] and all(os.path.exists(os.path.join(folder, "manifest.json"))
                                       for folder in artifacts["outbox"].values())
    assert os.path.exists(artifacts["report"])
    assert not list((base / "home").rglob(".*.tmp-*"))        # no half-written folder or page left
    # and a third run finds nothing to do
    again = daily_run(env)
    assert again.returncode == 0
    assert query(url, "select max(publication_id) from audit.publications")[0][0] == live
