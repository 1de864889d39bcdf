"""Run the daily pipeline through Airflow: every feed DAG, then the warehouse DAG.

`xinyong run` starts this module in a child process whose Airflow output goes to a log
file; the child reports progress on a pipe, which the parent prints. The DAGs run with
`dag.test()`, what `airflow dags test` does, in dependency order in one process (the
in-process execution API starts once instead of once per DAG).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from xinyong.runtime import config, embedded, progress, warehouse
from xinyong.runtime.config import PROJECT_ROOT

DAGS_FOLDER = PROJECT_ROOT / "dags"
WAREHOUSE_DAG = "credit_warehouse"
# `xinyong run --full-refresh` tells its child: build even with nothing new, every entity recomputed.
FULL_REFRESH_ENV = "XINYONG_FULL_REFRESH"


def airflow_env(settings: config.Settings, warehouse_url: str) -> dict[str, str]:
    """Environment under which Airflow runs Xinyong's DAGs (connections from env vars)."""
    env = {
        "AIRFLOW_HOME": str(settings.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
        "AIRFLOW_CONN_XINYONG_WAREHOUSE": warehouse_url,
        "XINYONG_HOME": str(settings.home),
        "XINYONG_LANDING": str(settings.landing),
        "XINYONG_WAREHOUSE_URL": warehouse_url,
        "GX_ANALYTICS_ENABLED": "false",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    if settings.evaluation_date:
        env["XINYONG_EVALUATION_DATE"] = settings.evaluation_date
    if not os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
        if settings.embedded:
            server = embedded.ensure_running(settings.home, settings.embedded_port)
            meta = server.url("airflow").replace("postgresql://", "postgresql+psycopg2://")
        else:
            meta = f"sqlite:///{settings.airflow_home / 'airflow.db'}"
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = meta
    return env


def ensure_airflow_db(env: dict[str, str], log_file: Path) -> None:
    """`airflow db migrate` once per metadata database and Airflow version."""
    import airflow

    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    conn = env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") or os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    marker = home / f".migrated-{airflow.__version__}-{hashlib.sha256(conn.encode()).hexdigest()[:12]}"
    if marker.exists():
        return
    with log_file.open("a") as log:
        result = subprocess.run(
            [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    if result.returncode != 0:
        raise RuntimeError(f"`airflow db migrate` failed; see {log_file}")
    marker.touch()


def _progress(event: dict) -> None:
    if os.environ.get(progress.FD_ENV):
        progress.emit(event)
    else:
        sys.stderr.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")


def _files_since(url: str, feed: str, since: float) -> list[dict]:
    with warehouse.transaction(url) as conn, conn.cursor() as cur:
        cur.execute(
            """select file_name, status, rows_read, rows_loaded, rows_rejected, message, report_path
                       from audit.feed_files where feed = %s and started_at >= to_timestamp(%s)
                       order by file_id""",
            (feed, since),
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=False)) for r in cur.fetchall()]


def _latest_publication_attempt(url: str, since: float) -> dict | None:
    with warehouse.transaction(url) as conn, conn.cursor() as cur:
        cur.execute(
            """select publication_id, status, reason, row_counts, artifacts from audit.publications
                       where started_at >= to_timestamp(%s) order by publication_id desc limit 1""",
            (since,),
        )
        row = cur.fetchone()
    if not row:
        return None
    return dict(zip(["publication_id", "status", "reason", "row_counts", "artifacts"], row, strict=False))


FRESHNESS_TASK = "check_freshness"


def _failed_tasks(dag_run) -> set[str]:
    return {
        ti.task_id for ti in dag_run.get_task_instances() if str(ti.state) in ("failed", "upstream_failed")
    }


def _latest_alert(url: str, dag_id: str) -> str:
    with warehouse.transaction(url) as conn, conn.cursor() as cur:
        cur.execute(
            """select message from audit.freshness_alerts where feed = %s
                       order by detected_at desc limit 1""",
            (dag_id.removeprefix("ingest_"),),
        )
        row = cur.fetchone()
    return row[0] if row else f"{dag_id}: feed is stale"


def run_child() -> int:
    """Inside the Airflow environment: run the feed DAGs, then the warehouse DAG if needed."""
    from airflow.dag_processing.dagbag import DagBag

    from xinyong.app import pipeline
    from xinyong.ingest import schema

    url = os.environ["XINYONG_WAREHOUSE_URL"]
    started = time.time()
    with warehouse.transaction(url) as conn:
        schema.ensure(conn)
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    if bag.import_errors:
        _progress({"event": "error", "message": f"DAG import errors: {bag.import_errors}"})
        return 2
    feed_dags = sorted(d for d in bag.dag_ids if d.startswith("ingest_"))
    findings = pipeline.check_landing()
    if findings:
        _progress({"event": "landing", "findings": findings})
    for dag_id in feed_dags:
        _progress({"event": "dag_start", "dag_id": dag_id})
        t0 = time.time()
        dag_run = bag.get_dag(dag_id).test()
        files = _files_since(url, dag_id.removeprefix("ingest_"), t0 - 1)
        failed = _failed_tasks(dag_run)
        _progress(
            {
                "event": "dag_end",
                "dag_id": dag_id,
                "state": str(dag_run.state),
                "seconds": round(time.time() - t0, 1),
                "files": files,
            }
        )
        if failed == {FRESHNESS_TASK}:
            # A late feed is an alert for people (audit.freshness_alerts), not a reason to
            # withhold what the other feeds brought: the warehouse still builds.
            _progress({"event": "stale", "dag_id": dag_id, "message": _latest_alert(url, dag_id)})
        elif str(dag_run.state) != "success":
            _progress(
                {"event": "error", "message": f"{dag_id} failed ({', '.join(sorted(failed))}); see the log"}
            )
            return 1
    # Resolved once here and handed to the DAG as its param, so the decision and the build agree.
    day = pipeline.resolve_evaluation_date(os.environ.get("XINYONG_EVALUATION_DATE"))
    full_refresh = bool(os.environ.get(FULL_REFRESH_ENV))
    reason = "full refresh requested" if full_refresh else pipeline.build_reason(day)
    if reason is None:
        live = pipeline.complete_delivery()
        # No warehouse DAG run: its last task (mails, department pages) runs here instead.
        pipeline.notify_departments()
        _progress({"event": "unchanged", "publication": live})
        return 0 if live else 1
    _progress({"event": "dag_start", "dag_id": WAREHOUSE_DAG, "reason": reason})
    t0 = time.time()
    dag_run = bag.get_dag(WAREHOUSE_DAG).test(run_conf={"evaluation_date": day, "full_refresh": full_refresh})
    attempt = _latest_publication_attempt(url, started - 1)
    _progress(
        {
            "event": "dag_end",
            "dag_id": WAREHOUSE_DAG,
            "state": str(dag_run.state),
            "seconds": round(time.time() - t0, 1),
            "publication": attempt,
        }
    )
    return 0 if str(dag_run.state) == "success" and attempt and attempt["status"] == "published" else 1


if __name__ == "__main__":
    sys.exit(run_child())
