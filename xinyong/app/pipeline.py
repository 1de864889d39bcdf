"""Task bodies of the DAGs: ingest a feed, build, gate and publish.

DAG files stay thin and import only this module; everything here is plain Python that
tests call directly as well.
"""
from __future__ import annotations

import logging

from xinyong import ingest
from xinyong.ingest import contracts
from xinyong.publication import build, gates, outbox, publish
from xinyong.publication import report as publication_report
from xinyong.runtime import config, warehouse

log = logging.getLogger(__name__)
WAREHOUSE_CONN_ID = "xinyong_warehouse"


class GateFailed(RuntimeError):
    """A quality gate stopped the publication; `publish` is untouched."""


def feed_asset_uri(feed: str) -> str:
    return f"xinyong://raw/{feed}"


PUBLISH_ASSET_URI = "xinyong://publish"


def warehouse_url() -> str:
    """The warehouse as Airflow knows it (AIRFLOW_CONN_XINYONG_WAREHOUSE), else Xinyong's own setting."""
    try:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:  # outside Airflow (tests, CLI)
        return warehouse.url()
    try:
        uri = BaseHook.get_connection(WAREHOUSE_CONN_ID).get_uri()
    except AirflowNotFoundException:
        return warehouse.url()
    return "postgresql://" + uri.split("://", 1)[1]


def ingest_feed(feed: str) -> dict:
    """Ingest every file waiting in the feed's landing folder; returns a summary."""
    outcomes = ingest.ingest_feed(contracts.load(feed), config.load(), warehouse_url(), progress=log.info)
    return {
        "feed": feed,
        "files": [o.__dict__ for o in outcomes],
        "rows_loaded": sum(o.rows_loaded for o in outcomes),
        "rows_rejected": sum(o.rows_rejected for o in outcomes),
    }


def build_candidate() -> dict:
    settings, url = config.load(), warehouse_url()
    day = build.evaluation_date(settings)
    publication_id = publish.start(url, day)
    result = build.build_candidate(url, settings, f"publication_{publication_id}")
    artifacts = {"dbt_target": str(result.target_path)}
    if not result.success:
        reason = "dbt build failed: " + "; ".join(result.failures[:5])
        publish.fail(url, publication_id, reason, {"dbt": {"success": False, "failures": result.failures}},
                     artifacts)
        raise GateFailed(reason)
    publish.record(url, publication_id, artifacts, {"dbt": {"success": True}})
    return {"publication_id": publication_id, "evaluation_date": day, "artifacts": artifacts}


def audit_candidate(candidate: dict) -> dict:
    """The GX gate; on failure `publish` is untouched, an approvable candidate is kept."""
    url = warehouse_url()
    publication_id = candidate["publication_id"]
    gate = gates.run_gate(url)
    candidate["artifacts"].update({"data_docs": gate.data_docs, "gx_results": str(gates.GX_RESULTS)})
    candidate["gate_results"] = {"dbt": {"success": True}, "gx": gate.as_dict()}
    if not gate.success:
        held = publish.fail(url, publication_id, gate.summary(), candidate["gate_results"],
                            candidate["artifacts"], hold=gate.approvable)
        report = publication_report.write(url, config.load(), publication_id,
                                          new_schema=held or publish.CANDIDATE, old_schema=publish.LIVE)
        publish.record(url, publication_id, {"report": str(report)})
        kept = (f"\n  candidate kept as schema {held}; release it with "
                f"`xinyong publish --approve {publication_id} --reason \"...\"`" if held else "")
        raise GateFailed(f"{gate.summary()}{kept}\n  publication report: {report}")
    log.info(gate.summary())
    return candidate


def publish_candidate(candidate: dict) -> dict:
    url = warehouse_url()
    counts = publish.swap(url, candidate["publication_id"], publish.CANDIDATE,
                          candidate["gate_results"], candidate["artifacts"])
    log.info("publication %s is live: %s", candidate["publication_id"], counts)
    artifacts = deliver(url, candidate["publication_id"])
    return {"publication_id": candidate["publication_id"], "row_counts": counts, "artifacts": artifacts}


def deliver(url: str, publication_id: int) -> dict:
    """After a publication went live: the outbox of each consumer that receives one, and the report."""
    settings = config.load()
    folders = outbox.write(url, settings, publication_id)
    report = publication_report.write(url, settings, publication_id,
                                      new_schema=publish.LIVE, old_schema=publish.PREVIOUS)
    artifacts = {"outbox": {consumer: str(folder) for consumer, folder in folders.items()}, "report": str(report)}
    publish.record(url, publication_id, artifacts)
    return artifacts
