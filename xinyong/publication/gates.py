"""The Great Expectations gate on the candidate publication and the feeds (the "audit" of WAP).

One home per gate: dbt tests hold the invariants inside one model (`dbt build` runs them
before this gate); GX holds the checks across runs, across tables or that a person may
approve. Suites, validation definitions and the checkpoint are files in `expectations/gx/`
(written by expectations/define_gates.py); the SQL they call is expectations/sql/gates.sql,
applied here before every run. Validation runs inside PostgreSQL.

A run is told what it checks: the candidate schema (the gate's connection gets it as its
`search_path`, so the GX files never name it) and the evaluation date (a session setting,
`xinyong.evaluation_date`, with the SQL knobs of gate_policy.yml). Bounds come from
expectations/gate_policy.yml as suite parameters or from the policy seeds the SQL reads.
A validation whose relations do not exist (a published table the warehouse does not build
yet) is skipped and reported as such. Results and Data Docs are written under
`<XINYONG_HOME>/gx/`, so two homes on one checkout keep their own; each failure names its
expectation, the offending rows (masked) and its Data Docs page.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from xinyong.ingest import contracts
from xinyong.publication import schemas
from xinyong.runtime import config, progress, warehouse
from xinyong.runtime.config import PROJECT_ROOT

GX_ROOT = PROJECT_ROOT / "expectations"
GATE_POLICY = GX_ROOT / "gate_policy.yml"
GATE_SQL = GX_ROOT / "sql" / "gates.sql"
CHECKPOINT = "publication_gate"
# Environment variables great_expectations.yml substitutes: where a run writes, what it reads.
GX_HOME_ENV = "XINYONG_GX_HOME"
WAREHOUSE_URL_ENV = "XINYONG_GX_WAREHOUSE_URL"
log = logging.getLogger(__name__)
ID_NUMBER = re.compile(r"([1-9]\d{5})(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(\d{3}[0-9Xx])")
NAME_COLUMNS = re.compile(r"name|姓名|名称")
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def gx_home(home: Path) -> Path:
    """What the gate writes for one XINYONG_HOME: validation results and Data Docs."""
    return home / "gx"


def results_dir(home: Path) -> Path:
    return gx_home(home) / "validations"


def data_docs_dir(home: Path) -> Path:
    return gx_home(home) / "data_docs" / "local_site"


@dataclass
class GateResult:
    success: bool
    candidate_schema: str = schemas.CANDIDATE
    evaluation_date: str | None = None
    checked: int = 0
    failures: list[dict] = field(default_factory=list)  # one per failed expectation
    skipped: list[dict] = field(default_factory=list)  # validations that could not apply
    validations: list[dict] = field(default_factory=list)
    data_docs: str | None = None
    results: str | None = None  # the folder of this home's validation results

    @property
    def approvable(self) -> bool:
        """Only failures a person may release (e.g. a real tier shift after a policy change)."""
        return bool(self.failures) and all(f["approvable"] for f in self.failures)

    def as_dict(self) -> dict:
        return {
            "success": self.success,
            "candidate_schema": self.candidate_schema,
            "evaluation_date": self.evaluation_date,
            "checked": self.checked,
            "failures": self.failures,
            "skipped": self.skipped,
            "validations": self.validations,
            "approvable": self.approvable,
            "data_docs": self.data_docs,
        }

    def summary(self) -> str:
        skipped = "".join(f"\n  skipped {s['validation']}: {s['reason']}" for s in self.skipped)
        if self.success:
            return f"GX gate passed ({self.checked} expectations){skipped}"
        lines = [
            f"GX gate failed: {len(self.failures)} of {self.checked} expectations"
            + (
                " (all approvable: `xinyong publish --approve <publication_id> --reason ...`)"
                if self.approvable
                else ""
            )
        ]
        for f in self.failures:
            lines.append(
                f"  - {f['asset']}: {f['expectation']}"
                + (f" [{f['note']}]" if f.get("note") else "")
                + f" {f['kwargs']} unexpected={f.get('unexpected_count')}"
                + (" (approvable)" if f["approvable"] else "")
            )
            if f.get("error"):
                lines.append(f"      error: {f['error']}")
            for example in f.get("examples") or []:
                lines.append(f"      e.g. {example}")
            if f.get("data_docs"):
                lines.append(f"      Data Docs: {f['data_docs']}")
        if self.data_docs:
            lines.append(f"  Data Docs: {self.data_docs}")
        return "\n".join(lines) + skipped


def session_url(warehouse_url: str, candidate_schema: str, settings: dict[str, object]) -> str:
    """The gate's connection: the candidate first on the search_path, the run's knobs as
    session settings `xinyong.<name>` (libpq `options`), for SQLAlchemy's psycopg2 driver."""
    from sqlalchemy.engine import make_url

    if not IDENTIFIER.match(candidate_schema):
        raise ValueError(f"candidate schema {candidate_schema!r} is not a plain lower-case identifier")
    url = make_url(warehouse.sqlalchemy_url(warehouse_url))
    options = [str(url.query.get("options") or "").strip(), f"-c search_path={candidate_schema}"]
    for name, value in settings.items():
        if not IDENTIFIER.match(name) or not re.fullmatch(r"[\w.:+-]+", str(value)):
            raise ValueError(f"gate setting {name}={value!r} cannot travel as a session setting")
        options.append(f"-c xinyong.{name}={value}")
    return url.update_query_dict({"options": " ".join(o for o in options if o)}).render_as_string(
        hide_password=False
    )


def mask(value, column: str = ""):
    """What a gate may print about a value: ID numbers as 500115********1234, names cut."""
    if isinstance(value, dict):
        return {k: mask(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v, column) for v in value]
    if not isinstance(value, str):
        return value if value is None or isinstance(value, (int, float, bool)) else str(value)
    masked = ID_NUMBER.sub(lambda m: f"{m.group(1)}********{m.group(2)}", value)
    if masked == value and NAME_COLUMNS.search(column) and len(value) <= 4:
        masked = value[:1] + "*" * (len(value) - 1)
    return masked


def policy() -> dict:
    return yaml.load(GATE_POLICY.read_text(encoding="utf-8"), Loader=contracts.YAML_LOADER)


def name_readers() -> list[tuple[str, str]]:
    """(raw table, the select of its names) of every column a contract marks as a natural
    person's name: the values of 2 to 4 characters, trimmed, where the contract's condition holds."""
    readers = []
    for contract in contracts.load_all().values():
        for col in contract.columns:
            if col.personal != "name":
                continue
            condition = col.personal_when.replace("{", "").replace("}", "") if col.personal_when else "true"
            readers.append(
                (
                    contract.raw_table,
                    f"select btrim({col.name}) as person_name from {contract.raw_table} "
                    f"where {col.name} is not null and char_length(btrim({col.name})) between 2 and 4 "
                    f"and ({condition})",
                )
            )
    return readers


def prepare(warehouse_url: str) -> None:
    """Apply expectations/sql/gates.sql and bring audit.natural_person_names up to date: every
    name a contract marks personal, read from raw. Raw only grows and a feed's files load one
    at a time with growing ids, so each reader reads only the files loaded since it last read
    (audit.natural_person_names_read): at city scale reading them all took 212 s of a 250 s
    gate. A reader no longer declared (a contract changed) makes them all read again.
    Idempotent, under the bootstrap lock."""
    readers = name_readers()
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('xinyong.bootstrap'))")
        cur.execute(GATE_SQL.read_text(encoding="utf-8"))
        cur.execute("select reader, through_file_id from audit.natural_person_names_read")
        read = dict(cur.fetchall())
        if set(read) - {reader for _, reader in readers}:
            cur.execute("truncate audit.natural_person_names, audit.natural_person_names_read")
            read = {}
        read_any = False
        for raw_table, reader in readers:
            read_through = read.get(reader, 0)
            # the block-range index on _file_id finds the new files' rows
            cur.execute(f"select max(_file_id) from {raw_table} where _file_id > %s", (read_through,))
            (newest,) = cur.fetchone()
            if newest is None:
                continue
            cur.execute(
                f"""insert into audit.natural_person_names (person_name)
                    select distinct person_name from ({reader.replace("%", "%%")} and _file_id > %s and _file_id <= %s) n
                    on conflict do nothing""",
                (read_through, newest),
            )
            cur.execute(
                """insert into audit.natural_person_names_read (reader, through_file_id) values (%s, %s)
                   on conflict (reader) do update set through_file_id = excluded.through_file_id""",
                (reader, newest),
            )
            read_any = True
        if read_any:  # the scan joins with the names: by statistics of what they are now
            cur.execute("analyze audit.natural_person_names")


def _asset(vd):
    """A validation's data asset as its data source declares it (table name, query)."""
    return vd.data_source.get_asset(vd.asset.name) if hasattr(vd, "data_source") else vd.asset


def _missing_relations(cur, vd, requires: dict, candidate_schema: str) -> list[str]:
    """What a validation reads that is not there; an unqualified name is in the candidate."""
    needed = list(requires.get(vd.name, []))
    asset = _asset(vd)
    if getattr(asset, "type", "") == "table":
        schema = asset.schema_name if isinstance(asset.schema_name, str) else None  # GX: `Missing`
        needed.append(f"{schema}.{asset.table_name}" if schema else asset.table_name)
    needed = [name if "." in name else f"{candidate_schema}.{name}" for name in needed]
    return [r for r in dict.fromkeys(needed) if not warehouse.relation_exists(cur, r)]


def _data_docs_page(home: Path, suite: str, run_time: dt.datetime) -> str | None:
    stamp = run_time.strftime("%Y%m%dT%H%M%S.%fZ")
    folder = data_docs_dir(home) / "validations" / suite
    pages = sorted(folder.glob(f"*/{stamp}/**/*.html")) if folder.is_dir() else []
    return pages[0].as_uri() if pages else None


def _error(info) -> str | None:
    """GX puts an exception either at the top of exception_info or under each metric's id."""
    if not info:
        return None
    if isinstance(info, dict) and info.get("raised_exception") is not False and info.get("exception_message"):
        return str(info["exception_message"])
    if isinstance(info, dict):
        for value in info.values():
            if isinstance(value, dict) and value.get("exception_message"):
                return str(value["exception_message"])
    return None


def _first_rows(vd, limit: int = 5) -> list[dict]:
    """The first rows of a findings query (a query asset whose rows offend), through GX's engine
    and the gate's session; read only for a failed check."""
    import sqlalchemy as sa

    query = _asset(vd).query
    engine = vd.data_source.get_execution_engine()
    result = engine.execute_query(sa.text(f"select * from ({query}) findings limit {int(limit)}"))
    return [mask(dict(row._mapping)) for row in result.fetchall()]


def _examples(details: dict) -> list:
    rows = (details.get("details") or {}).get("unexpected_rows")
    if rows is None and details.get("unexpected_index_list"):
        rows = details["unexpected_index_list"]
    if rows is not None:
        return [mask(dict(r) if not isinstance(r, dict) else r) for r in list(rows)[:5]]
    return mask(list(details.get("partial_unexpected_list") or [])[:5], "name")


def _build_data_docs(context, run_id, suites: list[str]) -> None:
    """Data Docs pages of this run's results and suites, and the index; a full rebuild would
    render every result ever stored in this home, on every run."""
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    keys = [
        key for key in context.validation_results_store.list_keys() if key.run_id.run_name == run_id.run_name
    ]
    suite_keys = [ExpectationSuiteIdentifier(name=suite) for suite in dict.fromkeys(suites)]
    if keys or suite_keys:  # an empty list would mean "everything" to GX
        context.build_data_docs(resource_identifiers=keys + suite_keys)


def _reads_personal_data_scan(vd) -> bool:
    """Whether a validation's query reads the findings _ScanAhead stores for this run."""
    return "audit.personal_data_findings" in str(getattr(_asset(vd), "query", "") or "")


class _ScanAhead(threading.Thread):
    """audit.store_personal_data_scan on a connection of its own, in the background."""

    def __init__(self, warehouse_url: str, candidate_schema: str, gate_run: str, incremental: dict):
        super().__init__(name="personal-data-scan", daemon=True)
        self.args = (warehouse_url, candidate_schema, gate_run, json.dumps(incremental))

    def run(self) -> None:
        url, candidate_schema, gate_run, incremental = self.args
        try:
            with warehouse.transaction(url) as conn, conn.cursor() as cur:
                # one snapshot: the xmins it records as vouched for are those its scan read
                cur.execute("set transaction isolation level repeatable read")
                cur.execute(
                    "select audit.store_personal_data_scan(%s, %s, %s::jsonb)",
                    (candidate_schema, gate_run, incremental),
                )
        except Exception as error:  # noqa: BLE001 - the GX validation scans then, and reports
            log.warning("personal-data scan ahead of GX failed, the validation scans itself: %s", error)


def run_gate(
    warehouse_url: str,
    evaluation_date: str,
    candidate_schema: str = schemas.CANDIDATE,
    checkpoint: str = CHECKPOINT,
    home: Path | None = None,
) -> GateResult:
    """Run every validation of the checkpoint against `candidate_schema` as of `evaluation_date`;
    results and Data Docs go under `home` (default: XINYONG_HOME)."""
    day = dt.date.fromisoformat(str(evaluation_date)).isoformat()
    home = home or config.load().home
    settings = policy()
    run_time = dt.datetime.now(dt.UTC)
    gate_run = f"{run_time:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
    os.environ[WAREHOUSE_URL_ENV] = session_url(
        warehouse_url,
        candidate_schema,
        {"evaluation_date": day, "gate_run": gate_run, **(settings.get("sql_parameters") or {})},
    )
    os.environ[GX_HOME_ENV] = str(gx_home(home))
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    prepare(warehouse_url)
    # The personal-data scan is most of the gate's SQL: PostgreSQL runs it while this process
    # loads Great Expectations; the GX validation then reads the findings stored for this run.
    scan = _ScanAhead(
        warehouse_url, candidate_schema, gate_run, settings.get("personal_data_incremental") or {}
    )
    scan.start()
    try:
        import great_expectations as gx
        from great_expectations.core.run_identifier import RunIdentifier

        context = gx.get_context(mode="file", project_root_dir=str(GX_ROOT))
        definitions = context.checkpoints.get(checkpoint).validation_definitions
        run_id = RunIdentifier(run_name=f"xinyong-{run_time:%Y%m%dT%H%M%S}", run_time=run_time)
        gate = GateResult(
            success=True,
            candidate_schema=candidate_schema,
            evaluation_date=day,
            results=str(results_dir(home)),
        )
        ran: list[tuple[str, object]] = []
        with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
            missing = {
                vd.name: _missing_relations(cur, vd, settings.get("requires") or {}, candidate_schema)
                for vd in definitions
            }
        # The validations that read the scan's findings run last, the others while it runs.
        definitions = sorted(definitions, key=_reads_personal_data_scan)
        for done, vd in enumerate(definitions):
            progress.report("GX gate", done, len(definitions), "validations", failed=len(gate.failures))
            if _reads_personal_data_scan(vd):
                scan.join()
            if missing[vd.name]:
                gate.skipped.append(
                    {
                        "validation": vd.name,
                        "suite": vd.suite.name,
                        "reason": f"{', '.join(missing[vd.name])} does not exist",
                    }
                )
                continue
            index_columns = (settings.get("index_columns") or {}).get(vd.name)
            result = vd.run(
                expectation_parameters=dict(settings.get("parameters") or {}),
                run_id=run_id,
                result_format={
                    "result_format": "COMPLETE",
                    **({"unexpected_index_column_names": index_columns} if index_columns else {}),
                },
            )
            ran.append((vd.suite.name, result))
            gate.validations.append(
                {
                    "validation": vd.name,
                    "suite": vd.suite.name,
                    "success": bool(result.success),
                    "expectations": len(result.results),
                }
            )
            for r in result.results:
                gate.checked += 1
                if r.success:
                    continue
                cfg = r.expectation_config
                details = r.result or {}
                error = _error(r.exception_info)
                examples = _examples(details)
                if not examples and not error and getattr(vd.asset, "type", "") == "query":
                    examples = _first_rows(vd)  # a findings query: its rows are what offends
                gate.failures.append(
                    {
                        "validation": vd.name,
                        "asset": vd.asset.name,
                        "suite": vd.suite.name,
                        "expectation": cfg.type,
                        "note": (cfg.meta or {}).get("note", ""),
                        "approvable": bool((cfg.meta or {}).get("approvable")) and not error,
                        "kwargs": {
                            k: v
                            for k, v in cfg.kwargs.items()
                            if k not in ("batch_id", "unexpected_rows_query")
                        },
                        "unexpected_count": details.get("unexpected_count", details.get("observed_value")),
                        "examples": examples,
                        **({"error": error.splitlines()[0][:300]} if error else {}),
                    }
                )
    finally:
        scan.join()  # also when none read it or one raised: the gate ends after the scan
    gate.success = not gate.failures
    progress.report("GX gate", len(definitions), len(definitions), "validations", failed=len(gate.failures))
    _build_data_docs(context, run_id, [suite for suite, _ in ran])
    sites = context.get_docs_sites_urls()
    if sites:
        gate.data_docs = sites[0].get("site_url")
    pages = {suite: _data_docs_page(home, suite, run_time) for suite, _ in ran}
    for f in gate.failures:
        f["data_docs"] = pages.get(f["suite"]) or gate.data_docs
    for v in gate.validations:
        v["data_docs"] = pages.get(v["suite"])
    return gate
