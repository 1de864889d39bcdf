"""
### Department feed ingestion

One DAG per feed contract in `connectors/` (`ingest_<feed>`). Each run takes every
complete file waiting in `<landing>/<feed>/`, validates every row against the contract,
loads the good rows into `raw.<feed>`, keeps the bad ones in `audit.rejected_rows` with
a reason, writes the department's report and moves the file out of the landing folder.
A run that loaded new rows emits the feed's Asset, on which the warehouse build is
scheduled; a run with nothing new is skipped and emits nothing.
"""
from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, task
from airflow.sdk.exceptions import AirflowSkipException

from xinyong import contracts, pipeline


def ingest_dag(contract: contracts.Contract):
    @dag(
        dag_id=f"ingest_{contract.feed}",
        description=f"{contract.title}（{contract.department}）",
        schedule="@daily",
        start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
        catchup=False,
        max_active_runs=1,
        default_args={"owner": "xinyong", "retries": 1},
        tags=["xinyong", "ingest"],
        doc_md=__doc__,
    )
    def ingest():
        @task(outlets=[Asset(pipeline.feed_asset_uri(contract.feed))])
        def ingest_landing_folder() -> dict:
            summary = pipeline.ingest_feed(contract.feed)
            if summary["rows_loaded"] == 0:
                raise AirflowSkipException(f"no new rows for {contract.feed}")
            return summary

        ingest_landing_folder()

    return ingest()


for _contract in contracts.load_all().values():
    ingest_dag(_contract)
