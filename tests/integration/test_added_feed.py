"""Adding a feed is declarations only: on a copy of the project, a made-up feed (the utilities'
list of business accounts in arrears) is added with its contract, one staging folder and its
sender's row in the departments seed, and two of its files flow through ingest, dbt build and
the gates."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EVALUATION_DATE, SAMPLES, drop_samples, query

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
ADDED = REPO / "tests" / "data" / "added_feed"
FEED = "utility_arrears"
FIRST = "utility_arrears_20261120.csv"

RUN = f"""
import json
from xinyong import ingest
from xinyong.app import pipeline
from xinyong.ingest import contracts
outcomes = [o.__dict__ for c in contracts.load_all().values() for o in ingest.ingest_feed(c)]
candidate = pipeline.audit_candidate(pipeline.build_candidate({EVALUATION_DATE!r}))
published = pipeline.publish_candidate(candidate)
print(json.dumps({{"outcomes": outcomes, "publication_id": published["publication_id"]}}, default=str))
"""


def copy_project(target: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source = REPO / name
        if source.is_file() and not name.startswith(("tests/", "bench/")):
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def add_feed(project: Path) -> None:
    """The three declarations a new feed takes: contract, staging folder, sender."""
    shutil.copy(ADDED / "connectors" / f"{FEED}.yml", project / "connectors")
    shutil.copytree(ADDED / "staging" / FEED, project / f"dbt_project/models/staging/{FEED}")
    seed = project / "dbt_project" / "seeds" / "departments.csv"
    with seed.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        if row["department_code"] == "urban":  # the 城市管理局 collects the utilities' lists
            row["feeds"] = "|".join(filter(None, [row["feeds"], FEED]))
    with seed.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def second_file(landing: Path) -> None:
    """The next day: one account settled, one new."""
    with (ADDED / FIRST).open(encoding="utf-8", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    paid = list(rows[0])
    paid[header.index("结清日期")] = "2026-11-21"
    new = list(rows[1])
    new[header.index("户号")] = "SW-0115-000199"
    with (landing / FEED / f"{FEED}_20261121.csv").open("w", encoding="gb18030", newline="") as fh:
        csv.writer(fh).writerows([header, paid, new])


def test_an_added_feed_flows_through_ingest_build_and_gates(pg_server, tmp_path):
    project = copy_project(tmp_path / "project")
    add_feed(project)
    landing = tmp_path / "landing"
    landing.mkdir()
    drop_samples(landing, [p.name for p in SAMPLES.iterdir()])
    (landing / FEED).mkdir()
    shutil.copy(ADDED / FIRST, landing / FEED)
    second_file(landing)
    name = f"t_added_{os.getpid()}"
    pg_server.create_database(name)
    url = pg_server.url(name)
    env = {
        **os.environ,
        "PYTHONPATH": str(project),
        "XINYONG_WAREHOUSE_URL": url,
        "XINYONG_HOME": str(tmp_path / "home"),
        "XINYONG_LANDING": str(landing),
    }
    try:
        run = subprocess.run(
            [sys.executable, "-c", RUN], cwd=project, env=env, capture_output=True, text=True, timeout=900
        )
        assert run.returncode == 0, run.stderr[-4000:]
        result = json.loads(run.stdout.strip().splitlines()[-1])
        added = {o["file_name"]: o for o in result["outcomes"] if o["feed"] == FEED}
        assert added[FIRST]["status"] == "loaded" and added[FIRST]["rows_loaded"] == 10
        assert added[f"{FEED}_20261121.csv"]["rows_loaded"] == 2
        # staging holds the latest version of each account: the settled one is no longer in arrears
        accounts = dict(
            query(url, "select account_no, is_in_arrears from staging.stg_utility_arrears__accounts")
        )
        assert (
            len(accounts) == 11 and list(accounts.values()).count(False) == 2
        )  # the sample's own + the paid
        # amounts with thousands separators were read as numbers
        assert query(
            url,
            "select arrears_yuan from staging.stg_utility_arrears__accounts where account_no = 'DL-0115-000201'",
        ) == [(23400,)]
        # dbt's key test ran on the new model, and the gates let the publication through
        status, gates = query(
            url,
            "select status, gate_results from audit.publications where publication_id = %s",
            (result["publication_id"],),
        )[0]
        assert status == "published" and gates["gx"]["success"]
        manifest = json.loads(
            next((tmp_path / "home" / "dbt").glob("publication_*/run_results.json")).read_text()
        )
        assert any(
            "unique_contract_key_stg_utility_arrears__accounts" in r["unique_id"] and r["status"] == "pass"
            for r in manifest["results"]
        )
        # and Airflow makes its ingest DAG from the contract alone
        dags = subprocess.run(
            [
                sys.executable,
                "-c",
                "from airflow.dag_processing.dagbag import DagBag; "
                f"print(sorted(DagBag(dag_folder={str(project / 'dags')!r}).dag_ids))",
            ],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=300,
            env={
                **env,
                "AIRFLOW_HOME": str(tmp_path / "airflow"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db",
            },
        )
        assert f"ingest_{FEED}" in dags.stdout, dags.stderr[-2000:]
    finally:
        pg_server.admin(f'drop database "{name}" with (force)')
