"""Benchmarks (not tests): `make bench` runs every registered measurement.

A measurement is a function registered with `@measurement(name, title)`. It receives a
`Context` (the generated district, a fresh database of its own, a scratch folder) and
returns a dict of figures; it must put the number of rows it handled in `rows` and the
seconds of the part it times in `seconds`. The runner (`bench.run`) calls each one in a
child process of its own, so that the peak memory it reports belongs to that
measurement alone. Figures computed from several measurements (the ingest-to-COPY ratio)
are registered with `@derived`.

A measurement runs at the scales it names (`scales=`, sample and district by default);
the city's phases (`bench/city.py`) share one database kept between runs instead.

To add a measurement (e.g. the warehouse build), write a module `bench/<area>.py` with
decorated functions and add it to `bench.run.MODULES`.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Context:
    district: Path  # output of `xinyong generate` (with generator_manifest.json)
    warehouse_url: str  # a fresh, bootstrapped database for this measurement alone
    scratch: Path  # an empty folder for this measurement alone


DISTRICT_SCALES = ("sample", "district")


@dataclass(frozen=True)
class Measurement:
    name: str
    title: str
    run: Callable[[Context], dict]
    scales: tuple[str, ...] = DISTRICT_SCALES  # the scales it runs at (`--scale`)


@dataclass(frozen=True)
class Derived:
    name: str
    title: str
    target: str  # e.g. "≥ 0.5", for the table
    compute: Callable[[dict[str, dict]], float | None]
    scales: tuple[str, ...] = DISTRICT_SCALES


MEASUREMENTS: dict[str, Measurement] = {}
DERIVED: dict[str, Derived] = {}


def measurement(name: str, title: str, scales: tuple[str, ...] = DISTRICT_SCALES):
    def register(func: Callable[[Context], dict]) -> Callable[[Context], dict]:
        MEASUREMENTS[name] = Measurement(name, title, func, scales)
        return func

    return register


def derived(name: str, title: str, target: str = "", scales: tuple[str, ...] = DISTRICT_SCALES):
    def register(func: Callable[[dict[str, dict]], float | None]):
        DERIVED[name] = Derived(name, title, target, func, scales)
        return func

    return register


@dataclass(frozen=True)
class AirflowRun:
    wall: float  # seconds, the orchestrating child process end to end
    tasks: dict[tuple[str, str], float]  # (dag_id, task_id) -> seconds, this run's task instances

    def of_dag(self, dag_id: str) -> dict[str, float]:
        return {task: seconds for (dag, task), seconds in self.tasks.items() if dag == dag_id}


def airflow_run(settings, warehouse_url: str, log: Path) -> AirflowRun:
    """`xinyong run`'s child (`python -m xinyong.app.orchestrate`: the feed DAGs, then
    credit_warehouse, by dag.test) in the Airflow environment of `settings`, its output
    appended to `log`. Task durations come from Airflow's sqlite metadata. A run that did not
    publish measures nothing: raises when the child fails or a task did not succeed (a stale
    feed's freshness check excepted: the orchestrator builds anyway)."""
    from xinyong.app import orchestrate

    env = orchestrate.airflow_env(settings, warehouse_url)
    env["XINYONG_LANDING_SETTLE_SECONDS"] = str(settings.landing_settle_seconds)
    meta = env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") or os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    if not meta.startswith("sqlite:///"):
        raise RuntimeError(f"the bench reads task durations from a sqlite Airflow database, not {meta}")
    orchestrate.ensure_airflow_db(env, log)
    started, clock = time.time(), time.perf_counter()
    with log.open("a") as out:
        child = subprocess.run(
            [sys.executable, "-m", "xinyong.app.orchestrate"],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    wall = time.perf_counter() - clock
    with sqlite3.connect(meta.removeprefix("sqlite:///")) as db:
        rows = db.execute(
            "select dag_id, task_id, duration, state from task_instance "
            "where start_date >= datetime(?, 'unixepoch')",
            (started,),
        ).fetchall()
    failed = sorted(
        f"{dag}.{task}"
        for dag, task, _, state in rows
        if state not in ("success", "skipped")
        and not (task == orchestrate.FRESHNESS_TASK and dag != orchestrate.WAREHOUSE_DAG)
    )
    if child.returncode != 0 or failed:
        raise RuntimeError(
            f"the Airflow run failed (exit code {child.returncode}"
            f"{'; tasks ' + ', '.join(failed) if failed else ''}); see {log}"
        )
    return AirflowRun(wall, {(dag, task): duration or 0.0 for dag, task, duration, _ in rows})
