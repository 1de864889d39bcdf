"""The warehouse at district scale: full build, one-day incremental build, and the build
orchestrated by Airflow against a bare `dbt build` of the same project on the same data."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import Context, airflow_run, derived, measurement
from synthetic.manifest import MANIFEST_NAME

EVALUATION_DATE = "2026-11-22"


def _settings(ctx: Context):
    from xinyong.runtime import config

    return config.Settings(
        home=ctx.scratch / "home",
        landing=ctx.scratch / "landing",
        warehouse_url=ctx.warehouse_url,
        embedded_port=0,
        evaluation_date=EVALUATION_DATE,
    )


def _files(ctx: Context) -> tuple[list[dict], dict]:
    """The district's data files; the latest parking file is held back as the one-day delta."""
    manifest = json.loads((ctx.district / MANIFEST_NAME).read_text(encoding="utf-8"))
    data = [f for f in manifest["files"] if f["kind"] in ("data", "duplicate")]
    parking = sorted((f for f in data if f["feed"] == "parking"), key=lambda f: f["file"])
    return [f for f in data if f is not parking[-1]], parking[-1]


def _ingest(ctx: Context, entries: list[dict]) -> int:
    from xinyong import ingest
    from xinyong.ingest import contracts

    settings = _settings(ctx)
    rows = 0
    for entry in entries:
        target = settings.landing / entry["feed"] / entry["file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ctx.district / entry["feed"] / entry["file"], target)
        rows += ingest.ingest_file(
            target, contracts.load(entry["feed"]), settings, ctx.warehouse_url
        ).rows_loaded
    return rows


# A selection that matches no node: dbt starts, loads its saved parse, finds nothing to do
# and stops before the hooks, which gives the cost of starting dbt at all.
NOTHING_SELECTED = ("--select", "tag:xinyong_bench_selects_nothing")


def _bare_dbt_build(
    ctx: Context,
    label: str,
    full_refresh: bool = False,
    day: str = EVALUATION_DATE,
    selection: tuple[str, ...] = (),
) -> float:
    """`dbt build` as a person would type it, in its own process, timed end to end, with the
    options build_candidate passes: unit tests left to CI, incremental unless `full_refresh`
    (and `selection` after them)."""
    from xinyong.publication import build, dbt_sources

    dbt_sources.write(build.DBT_PROJECT)  # what a person runs before a bare `dbt build` (README)
    env = {**os.environ, **build.dbt_env(ctx.warehouse_url, day)}
    # one target path, as a person's project has: dbt's parse of the unchanged project is reused
    target = ctx.scratch / "dbt"
    started = time.perf_counter()
    subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            *build.dbt_build_args(ctx.warehouse_url, full_refresh, live_schema=False),
            *selection,
            "--project-dir",
            str(build.DBT_PROJECT),
            "--profiles-dir",
            str(build.DBT_PROJECT),
            "--target-path",
            str(target),
            "--log-path",
            str(target / "logs"),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - started
    (ctx.scratch / f"dbt-{label}").mkdir(exist_ok=True)
    if (target / "run_results.json").exists():  # not written when nothing was selected
        shutil.copyfile(target / "run_results.json", ctx.scratch / f"dbt-{label}" / "run_results.json")
    return seconds


def _run_results(ctx: Context, label: str) -> dict:
    """The run_results.json that the build labelled `label` left (kept by _bare_dbt_build)."""
    return json.loads((ctx.scratch / f"dbt-{label}" / "run_results.json").read_text(encoding="utf-8"))


def _nodes_run(ctx: Context, label: str) -> int:
    """How many nodes (models, tests, seeds, hooks) a build ran, from its run_results.json."""
    return len(_run_results(ctx, label)["results"])


def _model_seconds(ctx: Context, label: str, name_part: str) -> float:
    """Own execution time of the models whose name holds `name_part`, from dbt's run_results.json."""
    results = _run_results(ctx, label)
    return sum(
        r["execution_time"]
        for r in results["results"]
        if r["unique_id"].startswith("model.") and name_part in r["unique_id"].rsplit(".", 1)[-1]
    )


def _time_split(ctx: Context, label: str, slowest: int = 8) -> dict:
    """Where a build's time went (run_results.json): summed own time per resource type, and
    the slowest nodes; with two dbt threads the sums exceed the wall time."""
    results = _run_results(ctx, label)
    by_type: dict[str, float] = {}
    for r in results["results"]:
        kind = r["unique_id"].split(".", 1)[0]
        by_type[kind] = round(by_type.get(kind, 0.0) + r["execution_time"], 2)
    top = sorted(results["results"], key=lambda r: -r["execution_time"])[:slowest]
    return {
        "by_type_s": by_type,
        "slowest_s": {r["unique_id"].rsplit(".", 1)[-1]: round(r["execution_time"], 2) for r in top},
    }


def _airflow_build(ctx: Context) -> dict:
    """The credit_warehouse DAG through Airflow (dag.test, as `xinyong run` does): the
    child's wall time and the DAG's task durations."""
    from xinyong.app import orchestrate

    run = airflow_run(_settings(ctx), ctx.warehouse_url, ctx.scratch / "airflow.log")
    return {"wall": run.wall, "tasks": run.of_dag(orchestrate.WAREHOUSE_DAG)}


def _gate(ctx: Context, day: str) -> tuple[float, dict]:
    """The GX gate on the candidate the last build made, in a process of its own as the
    Airflow task runs it (so it pays for importing Great Expectations), timed end to end;
    with its outcome (a failed validation is reported, not raised: every one still runs)."""
    code = (
        "import json, sys; from pathlib import Path; from xinyong.publication import gates; "
        "gate = gates.run_gate(sys.argv[1], sys.argv[2], home=Path(sys.argv[3])); "
        "print(json.dumps({'success': gate.success, 'checked': gate.checked, "
        "'failed': sorted({f['validation'] for f in gate.failures})}))"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, ctx.warehouse_url, day, str(_settings(ctx).home)],
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - started, json.loads(done.stdout.strip().splitlines()[-1])


@measurement(
    "warehouse_builds", "dbt build at district scale: full, Airflow-orchestrated, bare, one-day delta"
)
def warehouse_builds(ctx: Context) -> dict:
    from xinyong.publication import schemas
    from xinyong.runtime import warehouse

    base, delta = _files(ctx)
    loaded = _ingest(ctx, base)
    full = _bare_dbt_build(ctx, "full", full_refresh=True)
    commitment_models = _model_seconds(ctx, "full", "commitment")
    # Same project, same data, same (warm, incremental) state for the two compared builds:
    # nothing new since the full build, so both recompute only what the date changed (nothing).
    airflow_run = _airflow_build(ctx)
    bare = _bare_dbt_build(ctx, "bare")
    delta_rows = _ingest(ctx, [delta])
    # the next day: what the day's file changed and what the date alone changed
    next_day = (datetime.date.fromisoformat(EVALUATION_DATE) + datetime.timedelta(days=1)).isoformat()
    incremental = _bare_dbt_build(ctx, "delta", day=next_day)
    daily_gate, daily_gate_outcome = _gate(ctx, next_day)
    # what any build pays before its first node: dbt's start (after the builds above, so
    # with the same saved parse and warm caches)
    dbt_start = _bare_dbt_build(ctx, "nothing", day=next_day, selection=NOTHING_SELECTED)
    with warehouse.transaction(ctx.warehouse_url) as conn, conn.cursor() as cur:
        cur.execute(f"select count(*) from {schemas.CANDIDATE}.entity_credit_profile")
        entities = cur.fetchone()[0]
    build_task = airflow_run["tasks"].get("build_candidate")
    return {
        "rows": loaded,
        "seconds": full,
        "full_build_s": full,
        "bare_rebuild_s": bare,
        "airflow_build_task_s": build_task,
        "airflow_dag_run_s": airflow_run["wall"],
        "airflow_tasks_s": airflow_run["tasks"],
        "delta_rows": delta_rows,
        "incremental_build_s": incremental,
        "incremental_build_nodes": _nodes_run(ctx, "delta"),
        "dbt_start_s": dbt_start,
        "daily_gate_s": daily_gate,
        "daily_gate_outcome": daily_gate_outcome,
        "full_build_split": _time_split(ctx, "full"),
        "incremental_build_split": _time_split(ctx, "delta"),
        "entities_profiled": entities,
        "commitment_models_s": commitment_models,
    }


@derived("airflow_build_to_bare_dbt", "Airflow build_candidate task ÷ bare `dbt build`, same data", "≤ 1.3")
def airflow_build_to_bare_dbt(results: dict[str, dict]) -> float | None:
    r = results.get("warehouse_builds")
    if not r or not r.get("airflow_build_task_s"):
        return None
    return r["airflow_build_task_s"] / r["bare_rebuild_s"]


@derived(
    "incremental_to_full_build", "one-day-delta (incremental) build ÷ full (--full-refresh) build", "≤ 0.25"
)
def incremental_to_full_build(results: dict[str, dict]) -> float | None:
    r = results.get("warehouse_builds")
    return r["incremental_build_s"] / r["full_build_s"] if r else None


@derived(
    "daily_build_ms_per_node",
    "one-day build past dbt's start (nothing selected), per node it ran, ms",
)
def daily_build_ms_per_node(results: dict[str, dict]) -> float | None:
    r = results.get("warehouse_builds")
    if not r or not r.get("incremental_build_nodes") or r.get("dbt_start_s") is None:
        return None
    return 1000 * (r["incremental_build_s"] - r["dbt_start_s"]) / r["incremental_build_nodes"]


@derived("dbt_start_share", "dbt's start (a build that selects nothing) ÷ the one-day build")
def dbt_start_share(results: dict[str, dict]) -> float | None:
    r = results.get("warehouse_builds")
    if not r or r.get("dbt_start_s") is None:
        return None
    return r["dbt_start_s"] / r["incremental_build_s"]


@derived(
    "commitment_models_share", "commitment models' own time (run_results.json) ÷ full `dbt build`", "< 0.1"
)
def commitment_models_share(results: dict[str, dict]) -> float | None:
    r = results.get("warehouse_builds")
    return (
        r["commitment_models_s"] / r["full_build_s"]
        if r and r.get("commitment_models_s") is not None
        else None
    )


@derived(
    "gate_to_build", "GX gate ÷ dbt build (Airflow audit_candidate ÷ build_candidate, same run)", "≤ 0.25"
)
def gate_to_build(results: dict[str, dict]) -> float | None:
    tasks = (results.get("warehouse_builds") or {}).get("airflow_tasks_s") or {}
    if not tasks.get("audit_candidate") or not tasks.get("build_candidate"):
        return None
    return tasks["audit_candidate"] / tasks["build_candidate"]


@derived("daily_gate_to_build", "GX gate after the one-day build ÷ that build (own processes)", "≤ 0.25")
def daily_gate_to_build(results: dict[str, dict]) -> float | None:
    r = results.get("warehouse_builds")
    return r["daily_gate_s"] / r["incremental_build_s"] if r and r.get("daily_gate_s") else None
