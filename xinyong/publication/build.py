"""Build the warehouse with dbt into the candidate schema (the "write" of write-audit-publish)."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from xinyong.ingest import schema
from xinyong.publication import dbt_sources, schemas
from xinyong.runtime import config, progress, warehouse
from xinyong.runtime.config import PROJECT_ROOT

DBT_PROJECT = PROJECT_ROOT / "dbt_project"


@dataclass
class BuildResult:
    success: bool
    evaluation_date: str
    target_path: Path
    failures: list[str]


# The evaluation date reaches dbt in the environment, not in --vars: dbt re-parses the whole
# project (about 8 s) whenever --vars change, which a new day would do every day
# (dbt_project/macros/evaluation_date.sql reads it only when executing).
EVALUATION_DATE_ENV = "XINYONG_DBT_EVALUATION_DATE"


def dbt_env(warehouse_url: str, evaluation_date: str | None = None) -> dict[str, str]:
    """The environment dbt reads: XINYONG_DB_<FIELD> per field of dbt_project/profiles.yml and,
    for a build, the evaluation date."""
    return {
        **{
            f"XINYONG_DB_{field.upper()}": value
            for field, value in warehouse.dbt_profile(warehouse_url).items()
        },
        **({EVALUATION_DATE_ENV: evaluation_date} if evaluation_date else {}),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def _files_checksum(paths: list[Path], *, prefix: str = "") -> str:
    """The files' project paths and bytes, hashed in the order given, after `prefix`."""
    digest = hashlib.sha256(prefix.encode())
    for path in paths:
        digest.update(path.relative_to(DBT_PROJECT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:32]


def macros_checksum() -> str:
    """The project's macros and dbt_project.yml, and the warehouse's SQL functions (xy.mask,
    which the kept staging rows were masked with), hashed: the SQL behind the kept
    incremental state that dbt's own file checksums of models and seeds (macro
    project_checksum) miss. A changed macro (a scoring date rule, the latest-version rule) or
    function must recompute everything, as a changed model does."""
    functions = resources.files("xinyong.runtime.sql").joinpath("functions.sql").read_bytes()
    return _files_checksum(
        [DBT_PROJECT / "dbt_project.yml", *sorted((DBT_PROJECT / "macros").rglob("*.sql"))],
        prefix=hashlib.sha256(functions).hexdigest(),
    )


def policy_checksum() -> str:
    """The policy as the seeds load it: every file under seeds/ (the CSVs and their YAML),
    after the macros' checksum (which covers dbt_project.yml, the seeds' column types).
    Equal to what the last successful build recorded, the tables in `policy` already hold
    it (dbt_build_args)."""
    seeds = [path for path in sorted((DBT_PROJECT / "seeds").rglob("*")) if path.is_file()]
    return _files_checksum(seeds, prefix=macros_checksum())


def dbt_vars(live_schema: bool = True) -> str:
    """`--vars` of a warehouse build, the same every day (the date is in dbt_env): the
    candidate schema, the live one (the risk warnings compare against it), the macros' and
    the policy's checksums."""
    live = f", live_schema: {schemas.LIVE}" if live_schema else ""
    return (
        f"{{publish_schema: {schemas.CANDIDATE}{live}, macros_checksum: '{macros_checksum()}', "
        f"policy_checksum: '{policy_checksum()}'}}"
    )


def policy_loaded(warehouse_url: str) -> bool:
    """Whether the last successful build loaded the seeds as they are now
    (intermediate.build_state, written by dbt_project/macros/incremental_by_entity.sql) and no
    build started since without finishing (its mark, `running_invocation`, still there)."""
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute(
            """select 1 from information_schema.columns
               where table_schema = %s and table_name = 'build_state' and column_name = 'policy_checksum'""",
            (schemas.INTERMEDIATE,),
        )
        if cur.fetchone() is None:
            return False
        cur.execute(
            f"select policy_checksum from {schemas.INTERMEDIATE}.build_state as s"
            " where to_jsonb(s) ->> 'running_invocation' is null"
        )
        return cur.fetchall() == [(policy_checksum(),)]


def dbt_build_args(warehouse_url: str, full_refresh: bool = False, live_schema: bool = True) -> list[str]:
    """The `dbt build` of a warehouse build. dbt's unit tests test the SQL, not the data: CI
    runs them (`make test`), not each build. Unless `full_refresh`, policy the last build
    loaded is not loaded and tested again (20 seeds, 46 tests on seeds alone; a test that
    also reads a model still runs: cautious indirect selection)."""
    keep_policy = not full_refresh and policy_loaded(warehouse_url)
    return [
        "build",
        "--exclude",
        "resource_type:unit_test",
        *(["resource_type:seed", "--indirect-selection", "cautious"] if keep_policy else []),
        *(["--full-refresh"] if full_refresh else []),
        "--vars",
        dbt_vars(live_schema),
    ]


def _node_counter(step: str):
    """A dbt callback that reports nodes done of the total dbt announces before it starts.
    dbt's total leaves out unit tests (each runs just before its model), so the count does too."""
    state = {"done": 0, "total": None, "failed": 0}

    def on_event(event) -> None:
        name = event.info.name
        if name == "ConcurrencyLine":
            state["total"] = event.data.node_count
        elif name == "NodeFinished" and not event.data.node_info.unique_id.startswith("unit_test."):
            state["done"] += 1
            if str(event.data.run_result.status) in ("error", "fail"):
                state["failed"] += 1
        else:
            return
        progress.report(step, state["done"], state["total"], "nodes", failed=state["failed"])

    return on_event


# dbt's saved parse of the project, in its target path (dbt's partial parsing); dbt itself
# checks that the files, vars, profile and environment it was made from are unchanged.
PARSE_STATE = "partial_parse.msgpack"


def _saved_parse(settings: config.Settings, args: list[str]) -> Path:
    """Where runs with these --vars keep dbt's parse between them: one file per --vars, as
    dbt parses again for other vars (a build's and the docs' would undo each other)."""
    given = args[args.index("--vars") + 1] if "--vars" in args else ""
    return settings.home / "dbt" / f"partial_parse.{hashlib.sha256(given.encode()).hexdigest()[:12]}.msgpack"


def run_dbt(
    args: list[str],
    warehouse_url: str,
    settings: config.Settings,
    target_dir: Path,
    evaluation_date: str | None = None,
):
    """Run dbt in-process (dbtRunner) against the warehouse; returns dbt's result object.
    Each run writes its own target_dir; dbt's parse of the project (partial_parse.msgpack) is
    carried from one run to the next, so an unchanged project is not parsed again."""
    from dbt.cli.main import dbtRunner

    os.environ.update(dbt_env(warehouse_url, evaluation_date))
    if evaluation_date is None:
        os.environ.pop(EVALUATION_DATE_ENV, None)  # not an earlier run's day
    dbt_sources.write(DBT_PROJECT)
    target_dir.mkdir(parents=True, exist_ok=True)
    parse_state = _saved_parse(settings, args)
    if parse_state.exists() and not (target_dir / PARSE_STATE).exists():
        shutil.copyfile(parse_state, target_dir / PARSE_STATE)
    try:
        return dbtRunner(callbacks=[_node_counter(f"dbt {args[0]}")]).invoke(
            [
                *args,
                "--no-use-colors",
                "--project-dir",
                str(DBT_PROJECT),
                "--profiles-dir",
                str(DBT_PROJECT),
                "--target-path",
                str(target_dir),
                "--log-path",
                str(target_dir / "logs"),
            ]
        )
    finally:
        # replace(): a run starting meanwhile copies a whole file, never half of one
        if (target_dir / PARSE_STATE).exists():
            parse_state.parent.mkdir(parents=True, exist_ok=True)
            kept = parse_state.with_suffix(f".{os.getpid()}.tmp")
            shutil.copyfile(target_dir / PARSE_STATE, kept)
            os.replace(kept, parse_state)


def _failing_columns(warehouse_url: str, node_result) -> str:
    """For a failed column_values test (one dbt node checking several columns of a model,
    dbt_project/macros/tests/column_values.sql), the columns that failed and their failing
    rows, which dbt's own message ("Got N results") leaves out; '' for any other node."""
    node = node_result.node
    metadata = getattr(node, "test_metadata", None)
    if str(node_result.status) != "fail" or metadata is None or metadata.name != "column_values":
        return ""
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute(
            f"select failing_column, count(*) from ({node.compiled_code}) as failing"
            " group by failing_column order by failing_column"
        )
        return " (" + ", ".join(f"{column}: {rows} rows" for column, rows in cur.fetchall()) + ")"


def build_candidate(
    warehouse_url: str,
    settings: config.Settings,
    run_label: str,
    evaluation_date: str,
    full_refresh: bool = False,
) -> BuildResult:
    """`dbt build` (seeds, models, data tests) into a fresh candidate schema for the evaluation
    date. The per-entity models in `intermediate` are incremental (README "Incremental build"):
    a daily build recomputes the entities the new files or the new date changed, and the
    candidate marts copy them; `full_refresh` recomputes everything (dbt --full-refresh).
    The arguments: dbt_build_args."""
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        schema.ensure(conn)
        # A model removed from the project must not survive in the next publication.
        cur.execute(f"drop schema if exists {schemas.CANDIDATE} cascade")
    day = evaluation_date
    target_dir = settings.home / "dbt" / run_label
    # live_schema: the publication readers see now, which the risk warnings compare against.
    result = run_dbt(
        dbt_build_args(warehouse_url, full_refresh),
        warehouse_url,
        settings,
        target_dir,
        evaluation_date=day,
    )
    failures = []
    if result.result is not None:
        for node in result.result:
            if str(node.status) in ("error", "fail"):
                failure = f"{node.node.unique_id}: {node.status}: {(node.message or '').strip()}"
                failures.append(failure + _failing_columns(warehouse_url, node))
    if result.exception is not None:
        failures.append(f"dbt did not run: {result.exception}")
    return BuildResult(result.success and not failures, day, target_dir, failures)
