"""The facade the DAG files import: task bodies to ingest a feed, build, gate and publish.

DAG files stay thin and import only this module (the DagBag test enforces it); everything
here is plain Python that tests call directly as well. The evaluation date is resolved
once per warehouse run (`resolve_evaluation_date`) and passed explicitly from there on:
to the publication row, dbt's `--vars`, the GX gate and the outbox.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from xinyong import ingest
from xinyong.ingest import contracts, departments, freshness
from xinyong.publication import (
    build,
    commitment_lists,
    consumers,
    department_pages,
    docs,
    exchange_lists,
    gates,
    mailer,
    notifications,
    outbox,
    publish,
    risk_warnings,
    schemas,
)
from xinyong.publication import report as publication_report
from xinyong.runtime import config, faults, warehouse

log = logging.getLogger(__name__)
WAREHOUSE_CONN_ID = "xinyong_warehouse"
DISTRICT_TIMEZONE = ZoneInfo("Asia/Shanghai")


class GateFailed(RuntimeError):
    """A quality gate stopped the publication; `publish` is untouched."""


def feed_asset_uri(feed: str) -> str:
    """The Asset an ingest run emits: the feed's raw table, as the postgres provider names it."""
    return warehouse.table_uri("raw", feed)


def feeds() -> list[contracts.Contract]:
    """Every feed contract in connectors/, one ingest DAG each."""
    return list(contracts.load_all().values())


def feed_description(contract: contracts.Contract) -> str:
    """The feed's title and its sending department (from the departments seed)."""
    return f"{contract.title}（{departments.sender(contract.feed).name}）"


def ready_files(feed: str) -> list[str]:
    """Complete files waiting in the feed's landing folder (what the sensor waits for)."""
    return ingest.ready_files(feed)


def check_freshness(feed: str) -> str:
    """Raises (and records an alert) when the feed is late against its contract's cadence."""
    return freshness.check(feed, warehouse_url()).message


def resolve_evaluation_date(requested: str | None = None, run_after: dt.datetime | None = None) -> str:
    """The day a warehouse run speaks for, resolved once per run.

    The requested day (the `evaluation_date` param of `credit_warehouse`) when given,
    otherwise the date in Asia/Shanghai of the run's `run_after` (runs started by an
    Asset have no logical date in Airflow 3), otherwise of now.
    """
    if requested:
        try:
            return dt.date.fromisoformat(str(requested)).isoformat()
        except ValueError:
            raise ValueError(f"evaluation_date {requested!r} is not a date (YYYY-MM-DD)") from None
    moment = run_after or dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(DISTRICT_TIMEZONE).date().isoformat()


def publish_asset_uris() -> list[str]:
    """The Assets a publication updates: every table of the publish schema (the dbt models of
    marts/publish), as the postgres provider names them."""
    return [warehouse.table_uri(schemas.LIVE, model) for model in consumers.published_models()]


def cases_asset_uri() -> str:
    """The Asset of the case table: an event on it (Airflow's REST API: POST
    /api/v2/assets/events) runs credit_warehouse now, so a decided case publishes at once."""
    return warehouse.table_uri("audit", "cases")


def warehouse_url() -> str:
    """The warehouse as Airflow knows it (AIRFLOW_CONN_XINYONG_WAREHOUSE), else Xinyong's own setting."""
    try:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:  # outside Airflow (tests, CLI)
        return warehouse.url()
    try:
        conn = BaseHook.get_connection(WAREHOUSE_CONN_ID)
    except AirflowNotFoundException:
        return warehouse.url()
    # From the fields Airflow parsed, not get_uri(): that is Airflow's own URI format.
    return warehouse.url_from_parts(
        host=conn.host,
        port=conn.port,
        user=conn.login,
        password=conn.password,
        dbname=conn.schema,
        query=conn.extra_dejson,
    )


def check_landing() -> list[dict]:
    """Entries of the landing folder no feed takes up (a folder that is no feed's, a file in
    the root): logged and kept in audit.landing_findings, so they are reported, not ignored."""
    url = warehouse_url()
    findings = ingest.unknown_landing_entries(config.load())
    ingest.record_landing_findings(url, findings)
    for _, reason in findings:
        log.warning("landing: %s", reason)
    return [{"entry": entry, "reason": reason} for entry, reason in findings]


def ingest_feed(feed: str) -> dict:
    """Ingest every file waiting in the feed's landing folder; returns a summary."""
    check_landing()
    outcomes = ingest.ingest_feed(contracts.load(feed), config.load(), warehouse_url(), progress=log.info)
    return {
        "feed": feed,
        "files": [o.__dict__ for o in outcomes],
        "rows_loaded": sum(o.rows_loaded for o in outcomes),
        "rows_rejected": sum(o.rows_rejected for o in outcomes),
    }


def build_reason(evaluation_date: str) -> str | None:
    """Why this run must build (new files since the last decided attempt, or a new evaluation
    date), or None: then the live publication stays and only a missing delivery is completed."""
    return publish.build_reason(warehouse_url(), evaluation_date)


def files_awaiting_build() -> bool:
    """Whether loaded files wait for a warehouse build: an ingest run announces its feed's
    Asset then even when it loaded nothing itself (a worker killed after a file's commit
    left the announcement to the retry)."""
    return publish.files_awaiting_build(warehouse_url())


def complete_delivery() -> dict | None:
    """The live publication's outbox and report, when a run was stopped before writing them."""
    url = warehouse_url()
    live = publish.current(url)
    if live is None:
        return None
    artifacts = live.get("artifacts") or {}
    if not (artifacts.get("outbox") and artifacts.get("report")):
        live["artifacts"] = {**artifacts, **deliver(url, live["publication_id"], live["evaluation_date"])}
    return live


def build_candidate(evaluation_date: str, full_refresh: bool = False) -> dict:
    """`dbt build` into the candidate schema for `evaluation_date` (from resolve_evaluation_date):
    incremental, or every entity recomputed with `full_refresh`."""
    settings, url = config.load(), warehouse_url()
    day = resolve_evaluation_date(evaluation_date)
    publication_id = publish.start(url, day)
    result = build.build_candidate(
        url, settings, f"publication_{publication_id}", day, full_refresh=full_refresh
    )
    faults.inject("build:after_dbt")
    artifacts = {"dbt_target": str(result.target_path)}
    if not result.success:
        reason = "dbt build failed: " + "; ".join(result.failures[:5])
        publish.fail(
            url, publication_id, reason, {"dbt": {"success": False, "failures": result.failures}}, artifacts
        )
        raise GateFailed(reason)
    publish.record(url, publication_id, artifacts, {"dbt": {"success": True}})
    return {"publication_id": publication_id, "evaluation_date": day, "artifacts": artifacts}


def audit_candidate(candidate: dict) -> dict:
    """The GX gate; on failure `publish` is untouched, an approvable candidate is kept."""
    url = warehouse_url()
    publication_id = candidate["publication_id"]
    gate = gates.run_gate(url, candidate["evaluation_date"])
    faults.inject("gate:after_checkpoint")
    candidate["artifacts"].update({"data_docs": gate.data_docs, "gx_results": gate.results})
    candidate["gate_results"] = {"dbt": {"success": True}, "gx": gate.as_dict()}
    if not gate.success:
        held = publish.fail(
            url,
            publication_id,
            gate.summary(),
            candidate["gate_results"],
            candidate["artifacts"],
            hold=gate.approvable,
        )
        report = publication_report.write(
            url, config.load(), publication_id, new_schema=held or publish.CANDIDATE, old_schema=publish.LIVE
        )
        publish.record(url, publication_id, {"report": str(report)})
        kept = (
            f"\n  candidate kept as schema {held}; release it with "
            f'`xinyong publish --approve {publication_id} --reason "..."`'
            if held
            else ""
        )
        raise GateFailed(f"{gate.summary()}{kept}\n  publication report: {report}")
    log.info(gate.summary())
    return candidate


def publish_candidate(candidate: dict) -> dict:
    url = warehouse_url()
    counts = publish.swap(
        url, candidate["publication_id"], publish.CANDIDATE, candidate["gate_results"], candidate["artifacts"]
    )
    log.info("publication %s is live: %s", candidate["publication_id"], counts)
    faults.inject("publish:before_outbox")
    artifacts = deliver(url, candidate["publication_id"], candidate["evaluation_date"])
    return {
        "publication_id": candidate["publication_id"],
        "evaluation_date": candidate["evaluation_date"],
        "row_counts": counts,
        "artifacts": artifacts,
    }


def deliver(url: str, publication_id: int, evaluation_date) -> dict:
    """After a publication went live: the outbox of each consumer that receives one, each
    受理单位's commitment list, the district's red and black lists for its list-exchange
    partners, each recipient's risk warnings, and the report."""
    settings = config.load()
    folders = outbox.write(url, settings, publication_id, evaluation_date)
    lists = commitment_lists.write(url, settings, publication_id, evaluation_date)
    exchanged = exchange_lists.write(url, settings, publication_id, evaluation_date)
    warned = risk_warnings.write(url, settings, publication_id, evaluation_date)
    report = publication_report.write(
        url, settings, publication_id, new_schema=publish.LIVE, old_schema=publish.PREVIOUS
    )
    artifacts = {
        "outbox": {consumer: str(folder) for consumer, folder in folders.items()},
        "commitment_lists": {code: str(path) for code, path in lists.items()},
        "list_exchange": {agreement: str(path) for agreement, path in exchanged.items()},
        "risk_warnings": {code: str(path) for code, path in warned.items()},
        "report": str(report),
    }
    publish.record(url, publication_id, artifacts)
    return artifacts


def notify_departments() -> dict:
    """After every warehouse run, whatever became of it: mail the live publication's risk
    warnings and the run's notifications (quarantined files, a held or failed publication,
    stale feeds) through the mailer, whose ledger keeps a rerun from sending twice; then
    regenerate every department's page."""
    url, settings = warehouse_url(), config.load()
    live = publish.current(url)
    messages = notifications.messages(url, settings)
    if live and "risk_warnings" in (live.get("artifacts") or {}):
        messages += risk_warnings.messages(url, settings, live["publication_id"], live["evaluation_date"])
    mails = mailer.send(url, messages)
    pages = department_pages.write_all(url, settings)
    log.info("mails: %s; department pages: %d", mails, len(pages))
    return {"mails": mails, "department_pages": {code: str(path) for code, path in pages.items()}}


def document_publication(published: dict) -> dict:
    """dbt's static docs and the docs index (<home>/docs/index.html) for the publication that just
    went live. Off the critical path: the publication is live already, so a failure here is
    logged and returned, never raised."""
    try:
        index = docs.write(
            warehouse_url(), config.load(), published["publication_id"], published["evaluation_date"]
        )
    except Exception as exc:  # documentation must never fail a live publication
        log.warning("docs not written for publication %s: %s", published["publication_id"], exc)
        return {"docs": None, "error": str(exc)}
    log.info("docs: %s", index)
    return {"docs": str(index)}
