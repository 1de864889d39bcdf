"""The bench says where the time goes: the ingest's statements, and the plans of a build's
slowest models (bench/explain.py), on a real server."""

import json
import shutil

import pytest

from bench import explain, run
from bench import ingest as bench_ingest
from tests.conftest import SAMPLES
from xinyong import ingest
from xinyong.ingest import contracts
from xinyong.runtime import config, warehouse

pytestmark = pytest.mark.integration


def test_the_ingest_profile_lists_the_copy_and_the_side_connections_checks(warehouse_url, tmp_path):
    settings = config.Settings(
        home=tmp_path / "home",
        landing=tmp_path / "landing",
        warehouse_url=warehouse_url,
        embedded_port=0,
        evaluation_date=None,
    )
    landed = settings.landing / "parking" / "parking_20261120.csv"
    landed.parent.mkdir(parents=True)
    shutil.copyfile(SAMPLES / "parking_20261120.csv", landed)
    started = [0.0]
    with bench_ingest.statement_times(started) as profile:
        outcome = ingest.ingest_file(landed, contracts.load("parking"), settings, warehouse_url)
    assert outcome.rows_loaded > 0
    by_statement = {(step["connection"], step["statement"].split(" (")[0]): step for step in profile}
    copy = by_statement[(1, "copy raw.parking")]
    assert copy["times"] == 1 and copy["seconds"] > 0
    # the plates' and owners' rules, checked per distinct value on the second connection
    side = [step for step in profile if step["connection"] == 2]
    assert side and all(step["statement"].startswith("select * from unnest(") for step in side)
    assert warehouse.connect.__name__ == "connect" and warehouse.connect.__module__ == warehouse.__name__

    copy["seconds"] = 1.5  # at or above the report's threshold, unlike the sample's other steps
    markdown = run.render_markdown(
        {
            "started_at": "2026-12-06T07:00:00+00:00",
            "environment": {
                "scale": "district",
                "seed": 1,
                "postgresql": "18.6",
                "python": "3.11.7",
                "machine": "Linux x86_64, 2 CPUs",
                "commit": "abc1234",
                "load_average": "1.0 1.0 1.0",
            },
            "measurements": {
                "parking_ingest": {
                    "title": "ingest",
                    "rows": outcome.rows_read,
                    "seconds": 2.0,
                    "rows_per_second": outcome.rows_read / 2.0,
                    "peak_rss_mib": 500.0,
                    "profile": profile,
                }
            },
            "derived": {},
        }
    )
    assert "Where parking_ingest's 2.00 s went" in markdown
    assert "| 1 | " in markdown and "| 1.500 | `copy raw.parking (" in markdown


def test_explain_reports_the_slowest_models_plans_and_what_spilled(warehouse_url, tmp_path):
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute(
            "create table public.readings as select g, md5(g::text) as h from generate_series(1, 200000) g"
        )
        cur.execute("analyze public.readings")
        # a sort this size cannot stay in memory: the report must say it spilled
        cur.execute("select current_database()")
        cur.execute(f"alter database \"{cur.fetchone()[0]}\" set work_mem = '64kB'")
        cur.execute("create table public.untouched (n int)")
    run_results = {
        "results": [
            {
                "unique_id": "model.xinyong.sorted_readings",
                "status": "success",
                "execution_time": 12.5,
                "compiled_code": "select h, g from public.readings order by h",
            },
            {
                "unique_id": "model.xinyong.quick_one",
                "status": "success",
                "execution_time": 0.2,
                "compiled_code": "select count(*) from public.readings",
            },
            {  # a test is no model, and a failed model is not worth a plan
                "unique_id": "test.xinyong.not_null_x",
                "status": "pass",
                "execution_time": 30.0,
                "compiled_code": "select 1",
            },
            {
                "unique_id": "model.xinyong.failed_one",
                "status": "error",
                "execution_time": 40.0,
                "compiled_code": "select 1",
            },
        ]
    }
    (tmp_path / "run_results.json").write_text(json.dumps(run_results), encoding="utf-8")
    out = tmp_path / "explained.md"

    assert explain.main([str(tmp_path), "--url", warehouse_url, "--top", "1", "--out", str(out)]) == 0

    text = out.read_text(encoding="utf-8")
    assert "## sorted_readings: 12.5 s in the run" in text
    assert "quick_one" not in text and "failed_one" not in text and "not_null_x" not in text
    [sort_row] = [line for line in text.splitlines() if line.startswith("| Sort ")]
    assert "| 200,000 |" in sort_row and "on disk" in sort_row
    assert "Seq Scan on public.readings" in text


def test_explain_rolls_back_what_a_compiled_statement_would_change(warehouse_url):
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute("create table public.counter (n int)")
    conn = warehouse.connect(warehouse_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur, pytest.raises(Exception, match="read-only transaction"):
            explain.explain(cur, "insert into public.counter values (1) returning n")
        with conn.cursor() as cur:
            cur.execute("select count(*) from public.counter")
            assert cur.fetchone()[0] == 0
    finally:
        conn.close()
