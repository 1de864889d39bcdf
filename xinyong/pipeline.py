"""Task bodies of the DAGs: ingest a feed, build, gate and publish.

DAG files stay thin and import only this module; everything here is plain Python that
tests call directly as well.
"""
from __future__ import annotations

import logging

from xinyong import build, config, contracts, gates, ingest, publish, warehouse

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
    return {"publication_id": publication_id, "evaluation_date": day, "artifacts": artifacts}


def audit_candidate(candidate: dict) -> dict:
    url = warehouse_url()
    gate = gates.run_gate(url)
    candidate["artifacts"]["data_docs"] = gate.data_docs
    candidate["gate_results"] = {
        "dbt": {"success": True},
        "gx": {"success": gate.success, "checked": gate.checked, "failures": gate.failures},
    }
    if not gate.success:
        publish.fail(url, candidate["publication_id"], gate.summary(), candidate["gate_results"],
                     candidate["artifacts"])
        raise GateFailed(gate.summary())
    log.info(gate.summary())
    return candidate


def publish_candidate(candidate: dict) -> dict:
    counts = publish.swap(warehouse_url(), candidate["publication_id"], build.CANDIDATE_SCHEMA,
                          candidate["gate_results"], candidate["artifacts"])
    log.info("publication %s is live: %s", candidate["publication_id"], counts)
    return {"publication_id": candidate["publication_id"], "row_counts": counts}
