"""The city (`--scale city`): 3.5 million entities, thirty parking files of a million rows.

A city run does not fit one sitting, so its phases run one at a time (`--only`), in this
order, on one database kept between them (unlike the district's fresh database per
measurement): `bench_city` on an embedded server of its own under
`<XINYONG_HOME>/bench/city-pg` (so a district bench, which stops its server first, does not
stop this one), with the phases' working folders (archive, Airflow home, dbt targets)
under `<XINYONG_HOME>/bench/city-work`.

- `city_first_load` drops and recreates the database, ingests every file of the first
  load (xinyong's ingest, file by file), then runs the credit_warehouse DAG through
  Airflow: the first full build, the gate and the publication. When the last attempt's
  ingest finished but its build did not, it runs the build only, on the files in raw
  (`resumed_after_ingest` in the result).
- `city_daily_run` copies the daily delta (`daily_delta` in the generator's manifest: one
  new parking day, the next day's commitment checks and loan decisions) into the landing
  folder and runs the whole pipeline through Airflow, the feed DAGs and credit_warehouse,
  for the next evaluation date. Once per first load: the state
  file says whether the delta is in, and a second daily run asks for a new first load.
- `city_full_rebuild` builds the same evaluation date again with `full_refresh`, gates and
  publishes.

Each phase reports the peak RSS of every process it involves, sampled with psutil (the
child's own, its subprocesses' such as Airflow's and dbt's, and the PostgreSQL server's
processes), and the database's size after it. Results of each phase are kept in
`city-work/phases.json`, so the derived figures combine phases run on different days.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import psutil

from bench import Context, airflow_run, derived, measurement
from synthetic.manifest import MANIFEST_NAME

DATABASE = "bench_city"
SERVER_FOLDER = "city-pg"
WORK_FOLDER = "city-work"
STATE_FILE = "phases.json"
PHASES = ("city_first_load", "city_daily_run", "city_full_rebuild")
FIRST_DAY = "2026-11-21"  # evaluation date of the first load: the day after as_of
NEXT_DAY = "2026-11-22"  # of the daily run and the full rebuild
RSS_BUDGET_MIB = 4096
# Disk a first load takes per byte of generated files: on 2026-12-03, 5.9 GB of files made a
# 58 GB database (raw, its indexes, the warehouse). The archive, 5.8 GB then, now takes none:
# the landing folder gets hard links to the cached files, which the ingest moves (land).
DISK_PER_INPUT_BYTE = 10
DISK_HEADROOM = 10 * 2**30  # dbt's temporary tables, WAL, and whatever else shares the disk


def disk_shortfall(input_bytes: int, free_bytes: int) -> str | None:
    """Why a first load of `input_bytes` of files would fill the disk, or None when it fits.
    A full disk fails the load hours in, and everything else on the machine with it."""
    needed = input_bytes * DISK_PER_INPUT_BYTE + DISK_HEADROOM
    if free_bytes >= needed:
        return None
    return (
        f"the city's first load needs about {needed / 2**30:.0f} GiB free and {free_bytes / 2**30:.0f} GiB "
        f"are: the database grows to about {DISK_PER_INPUT_BYTE} times the {input_bytes / 2**30:.1f} GiB "
        "of generated files. Free space, or set XINYONG_HOME to a larger disk."
    )


# Free disk a later phase needs, as a share of the database it starts from. On 2026-12-06 the
# daily run grew a 57 GiB database by 6 GiB while its sorts spilled 2-3 GB each, two at a
# time; a full rebuild after it ran with about 9 GiB free beside 63 GiB (its sorts' temporary
# files are freed as it goes; its tables are truncated before they are filled again).
PHASE_DISK_SHARE = {"city_daily_run": 0.2, "city_full_rebuild": 0.12}


def phase_disk_shortfall(phase: str, database_bytes: int, free_bytes: int) -> str | None:
    """Why `phase` would fill the disk beside a database of `database_bytes`, or None."""
    needed = int(database_bytes * PHASE_DISK_SHARE[phase])
    if free_bytes >= needed:
        return None
    return (
        f"{phase} needs about {needed / 2**30:.0f} GiB free beside the {database_bytes / 2**30:.0f} GiB "
        f"database and {free_bytes / 2**30:.0f} GiB are: its new rows and its sorts' temporary files "
        "go there. Free space (the cached first-load files and the archive are not needed any more), "
        "or set XINYONG_HOME to a larger disk."
    )


def _check_disk(ctx: Context, phase: str) -> None:
    shortfall = phase_disk_shortfall(
        phase, int(_database_mib(ctx) * 2**20), shutil.disk_usage(work_dir(ctx)).free
    )
    if shortfall:
        raise RuntimeError(shortfall)


def work_dir(ctx: Context) -> Path:
    return ctx.scratch  # the runner passes city-work: kept between phases


def load_state(work: Path) -> dict:
    """{"database": {"evaluation_date", "delta_loaded"} of the kept database or absent,
    "results": {phase: latest result}}."""
    path = work / STATE_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"results": {}}


def _write_state(work: Path, state: dict) -> None:
    (work / STATE_FILE).write_text(json.dumps(state, indent=2, default=str) + "\n", encoding="utf-8")


def _set_database(ctx: Context, **facts) -> dict:
    state = load_state(work_dir(ctx))
    state["database"] = {**state.get("database", {}), **facts} if facts else {}
    _write_state(work_dir(ctx), state)
    return state["database"]


def ingest_to_resume(work: Path) -> dict | None:
    """The figures of the last first load's ingest when it finished and its build did not (a
    full disk, a crash): its files are in raw, so city_first_load runs the build again on them
    (half an hour saved) and the runner keeps the database."""
    database = load_state(work).get("database", {})
    return database.get("ingested") if "evaluation_date" not in database else None


def save_phase(work: Path, name: str, result: dict) -> None:
    state = load_state(work)
    state["results"][name] = result
    _write_state(work, state)


def phase_own_peak(result: dict) -> float:
    """The measuring process's peak RSS if the phase raised it: a peak equal to the baseline is
    older (the generator's world, built in the parent before the phase; a forked child inherits
    the parent's high-water mark), not the phase's."""
    peak = result.get("peak_rss_mib", 0.0)
    return peak if peak > result.get("baseline_rss_mib", 0.0) else 0.0


def phase_results(work: Path) -> dict[str, dict]:
    """The latest result of every city phase (possibly from earlier runs)."""
    results = load_state(work)["results"]
    return {name: results[name] for name in PHASES if name in results}


def _settings(ctx: Context, evaluation_date: str):
    from xinyong.runtime import config

    return config.Settings(
        home=work_dir(ctx) / "home",
        landing=work_dir(ctx) / "landing",
        warehouse_url=ctx.warehouse_url,
        embedded_port=0,
        evaluation_date=evaluation_date,
        landing_settle_seconds=0.0,
    )


class PeakRss:
    """Samples, every half second, the RSS of this process, its subprocesses (Airflow, dbt)
    and the PostgreSQL server's processes; keeps each one's maximum. A server process's RSS
    counts the shared buffers it touched, so the server's sum overstates its memory."""

    def __init__(self, server_pid: int | None, interval: float = 0.5) -> None:
        self.server = psutil.Process(server_pid) if server_pid else None
        self.interval = interval
        self.peak: dict[str, float] = {"bench process": 0.0, "subprocesses": 0.0, "postgres": 0.0}
        self.peak_server_total = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss(procs) -> list[float]:
        sizes = []
        for proc in procs:
            try:
                sizes.append(proc.memory_info().rss / 2**20)
            except psutil.Error:
                pass
        return sizes

    def sample(self) -> None:
        me = psutil.Process()
        groups = {"bench process": [me], "subprocesses": me.children(recursive=True)}
        if self.server is not None:
            try:
                groups["postgres"] = [self.server, *self.server.children(recursive=True)]
            except psutil.Error:
                groups["postgres"] = []
        for name, procs in groups.items():
            sizes = self._rss(procs)
            if sizes:
                self.peak[name] = max(self.peak[name], max(sizes))
            if name == "postgres":
                self.peak_server_total = max(self.peak_server_total, sum(sizes))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> PeakRss:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def figures(self) -> dict:
        return {
            "peak_rss_by_process_kind_mib": {k: round(v, 1) for k, v in self.peak.items()},
            "peak_rss_any_process_mib": round(max(self.peak.values()), 1),
            "peak_rss_server_sum_mib": round(self.peak_server_total, 1),
        }


PGDATA_ENV = "XINYONG_BENCH_CITY_PGDATA"  # set by the runner: the city server's data folder


def _server_pid() -> int | None:
    data = os.environ.get(PGDATA_ENV)
    pid_file = Path(data) / "postmaster.pid" if data else None
    return int(pid_file.read_text().splitlines()[0]) if pid_file and pid_file.is_file() else None


def _database_mib(ctx: Context) -> float:
    from xinyong.runtime import warehouse

    with warehouse.transaction(ctx.warehouse_url) as conn, conn.cursor() as cur:
        cur.execute("select pg_database_size(current_database())")
        return round(cur.fetchone()[0] / 2**20, 1)


def _manifest(ctx: Context) -> dict:
    return json.loads((ctx.district / MANIFEST_NAME).read_text(encoding="utf-8"))


def land(source: Path, target: Path) -> None:
    """A cached file into the landing folder: a hard link where the cache shares the file
    system (the ingest moves it on to the archive, so the archive costs no disk and the cache
    keeps its file), else a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def clear_outboxes(settings) -> float:
    """Remove the consumers' folders of earlier publications (a first load's are 3.5 GB): on
    this machine's disk a daily run and a full rebuild after it do not fit beside them, and no
    phase measures them. Returns the MiB freed."""
    from xinyong.publication import outbox

    freed = 0
    for folder in outbox.root(settings).glob("*/publication_*"):
        freed += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        shutil.rmtree(folder)
    return round(freed / 2**20, 1)


def _airflow_run(ctx: Context, settings, landing_files: list[tuple[Path, str]]) -> dict:
    """The files into the landing folder, then `xinyong run`'s child (feed DAGs, then
    credit_warehouse): wall time and task durations ("dag.task")."""
    for source, feed in landing_files:
        land(source, settings.landing / feed / source.name)
    settings.landing.mkdir(parents=True, exist_ok=True)
    run = airflow_run(settings, ctx.warehouse_url, work_dir(ctx) / "airflow.log")
    return {"wall": run.wall, "tasks": {f"{dag}.{task}": round(s, 1) for (dag, task), s in run.tasks.items()}}


def _publication(ctx: Context) -> dict | None:
    from xinyong.publication import publish

    live = publish.current(ctx.warehouse_url)
    return None if live is None else {k: live[k] for k in ("publication_id", "evaluation_date") if k in live}


@measurement(
    "city_first_load",
    "city: ingest of every first-load file, then the first build + gate + publish (Airflow)",
    scales=("city",),
)
def city_first_load(ctx: Context) -> dict:
    from xinyong import ingest
    from xinyong.ingest import contracts

    ingested = ingest_to_resume(work_dir(ctx))
    resumed = ingested is not None
    settings = _settings(ctx, FIRST_DAY)
    if resumed:
        print(
            f"  resuming: the first load's {ingested['files']} files were ingested "
            f"({ingested['rows']:,} rows in {ingested['seconds']:.0f} s); the first build runs again",
            file=sys.stderr,
            flush=True,
        )
        with PeakRss(_server_pid()) as rss:
            run = _airflow_run(ctx, settings, [])
        rows, ingest_s = ingested["rows"], ingested["seconds"]
    else:
        shutil.rmtree(work_dir(ctx) / "home", ignore_errors=True)
        shutil.rmtree(work_dir(ctx) / "landing", ignore_errors=True)
        _set_database(ctx)  # a fresh database: nothing loaded yet
        files = [f for f in _manifest(ctx)["files"] if f["kind"] in ("data", "duplicate")]
        shortfall = disk_shortfall(
            sum((ctx.district / f["feed"] / f["file"]).stat().st_size for f in files),
            shutil.disk_usage(work_dir(ctx)).free,
        )
        if shortfall:
            raise RuntimeError(shortfall)
        rows = 0
        with PeakRss(_server_pid()) as rss:
            started = time.perf_counter()
            for entry in files:
                target = settings.landing / entry["feed"] / entry["file"]
                land(ctx.district / entry["feed"] / entry["file"], target)
                outcome = ingest.ingest_file(
                    target, contracts.load(entry["feed"]), settings, ctx.warehouse_url
                )
                rows += outcome.rows_read
                print(
                    f"  {entry['file']}: {outcome.rows_read:,} rows, {outcome.status}",
                    file=sys.stderr,
                    flush=True,
                )
            ingest_s = time.perf_counter() - started
            ingested = {"rows": rows, "seconds": ingest_s, "files": len(files), **rss.figures()}
            _set_database(ctx, ingested=ingested)
            run = _airflow_run(ctx, settings, [])
    result = {
        "rows": rows,
        "seconds": ingest_s + run["wall"],
        "ingest_s": ingest_s,
        "ingest_rows_per_s": rows / ingest_s,
        "files": ingested["files"],
        "airflow_dag_run_s": run["wall"],
        "airflow_tasks_s": run["tasks"],
        "publication": _publication(ctx),
        "database_mib": _database_mib(ctx),
        **rss.figures(),
    }
    if "peak_rss_any_process_mib" in ingested:
        # the ingest's peaks count too when the build ran in a later, resumed run
        result["peak_rss_any_process_mib"] = max(
            result["peak_rss_any_process_mib"], ingested["peak_rss_any_process_mib"]
        )
    result["resumed_after_ingest"] = resumed
    _set_database(ctx, evaluation_date=FIRST_DAY, delta_loaded=False)
    return result


@measurement(
    "city_daily_run",
    "city: the daily delta through Airflow end to end (feed DAGs, build, gate, publish)",
    scales=("city",),
)
def city_daily_run(ctx: Context) -> dict:
    database = load_state(work_dir(ctx)).get("database", {})
    if "evaluation_date" not in database:
        raise RuntimeError("city_daily_run needs city_first_load first")
    if database["delta_loaded"]:
        raise RuntimeError(
            "the daily delta is already loaded: run city_first_load again before city_daily_run"
        )
    delta = _manifest(ctx)["daily_delta"]
    files = [(ctx.district / delta["folder"] / f["feed"] / f["file"], f["feed"]) for f in delta["files"]]
    settings = _settings(ctx, NEXT_DAY)
    outbox_removed_mib = clear_outboxes(settings)
    _check_disk(ctx, "city_daily_run")
    with PeakRss(_server_pid()) as rss:
        run = _airflow_run(ctx, settings, files)
    tasks = run["tasks"]
    result = {
        "rows": sum(f["rows"] for f in delta["files"]),
        "seconds": run["wall"],
        "delta_files": [f["file"] for f in delta["files"]],
        "build_s": tasks.get("credit_warehouse.build_candidate"),
        "gate_s": tasks.get("credit_warehouse.audit_candidate"),
        "publish_s": tasks.get("credit_warehouse.publish_candidate"),
        "airflow_tasks_s": tasks,
        "outbox_removed_mib": outbox_removed_mib,
        "publication": _publication(ctx),
        "database_mib": _database_mib(ctx),
        **rss.figures(),
    }
    _set_database(ctx, evaluation_date=NEXT_DAY, delta_loaded=True)
    return result


@measurement(
    "city_full_rebuild",
    "city: full rebuild (full_refresh) + gate + publish of the latest evaluation date",
    scales=("city",),
)
def city_full_rebuild(ctx: Context) -> dict:
    from xinyong.app import pipeline

    database = load_state(work_dir(ctx)).get("database", {})
    if "evaluation_date" not in database:
        raise RuntimeError("city_full_rebuild needs city_first_load first")
    day = database["evaluation_date"]
    settings = _settings(ctx, day)
    os.environ.update(
        XINYONG_HOME=str(settings.home),
        XINYONG_LANDING=str(settings.landing),
        XINYONG_WAREHOUSE_URL=ctx.warehouse_url,
        XINYONG_EVALUATION_DATE=day,
    )
    outbox_removed_mib = clear_outboxes(settings)
    _check_disk(ctx, "city_full_rebuild")
    timings = {}
    with PeakRss(_server_pid()) as rss:
        started = time.perf_counter()
        candidate = pipeline.build_candidate(day, full_refresh=True)
        timings["build_s"] = time.perf_counter() - started
        candidate = pipeline.audit_candidate(candidate)
        timings["gate_s"] = time.perf_counter() - started - timings["build_s"]
        pipeline.publish_candidate(candidate)
        seconds = time.perf_counter() - started
    result = {
        "rows": 0,
        "seconds": seconds,
        "full_refresh": True,
        "outbox_removed_mib": outbox_removed_mib,
        **{k: round(v, 1) for k, v in timings.items()},
        "publish_s": round(seconds - timings["build_s"] - timings["gate_s"], 1),
        "publication": _publication(ctx),
        "database_mib": _database_mib(ctx),
        **rss.figures(),
    }
    return result


@derived("city_daily_run_to_10_min", "city: daily run ÷ 10 minutes", "≤ 1", scales=("city",))
def daily_to_target(results: dict[str, dict]) -> float | None:
    r = results.get("city_daily_run")
    return r["seconds"] / 600 if r else None


@derived(
    "city_full_rebuild_to_60_min", "city: full rebuild + gate + publish ÷ 60 minutes", "≤ 1", scales=("city",)
)
def full_to_target(results: dict[str, dict]) -> float | None:
    r = results.get("city_full_rebuild")
    return r["seconds"] / 3600 if r else None


@derived(
    "city_one_day_to_full_build", "city: daily run's build ÷ full rebuild's build", "≤ 0.10", scales=("city",)
)
def one_day_to_full(results: dict[str, dict]) -> float | None:
    daily, full = results.get("city_daily_run"), results.get("city_full_rebuild")
    if not daily or not full or not daily.get("build_s") or not full.get("build_s"):
        return None
    return daily["build_s"] / full["build_s"]


@derived("city_peak_rss_gib", "city: peak RSS of any process in any phase, GiB", "< 4", scales=("city",))
def peak_rss(results: dict[str, dict]) -> float | None:
    peaks = [
        max(r["peak_rss_any_process_mib"], phase_own_peak(r))
        for name, r in results.items()
        if name in PHASES and "peak_rss_any_process_mib" in r
    ]
    return max(peaks) / 1024 if peaks else None
