"""
### Department feed ingestion

One DAG per feed contract in `connectors/` (`ingest_<feed>`), started daily and by its
landing folder: `wait_for_files` is a sensor (reschedule mode, no worker slot held while
it waits) on `<landing>/<feed>/` that succeeds as soon as a complete file is there
(`.part`, `.tmp` and hidden files do not count). A run started by hand or by
`xinyong run` does not wait: it takes what is there.

`ingest_landing_folder` validates every row against the contract, loads the good rows
into `raw.<feed>`, keeps the bad ones in `audit.rejected_rows` with a reason, writes the
department's report and moves the file out of the landing folder. A run that loaded new
rows, or finds loaded files no warehouse attempt has read (a worker killed after a file's
commit), emits the feed's Asset, on which the warehouse build is scheduled.

`check_freshness` fails, and records a row in `audit.freshness_alerts`, when the feed has
had no file loaded within its contract's `cadence_days`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, PokeReturnValue, dag, task
from airflow.sdk.exceptions import AirflowSkipException

from xinyong.app import pipeline

WAIT_SECONDS = 20 * 60 * 60  # a scheduled run waits for the day's file up to 20 h, then skips


def ingest_dag(contract):
    @dag(
        dag_id=f"ingest_{contract.feed}",
        description=pipeline.feed_description(contract),
        schedule="@daily",
        start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
        catchup=False,
        max_active_runs=1,
        # A retry (a dead worker, the warehouse away a moment) takes what is still in landing;
        # Airflow's default 5 minutes between tries only delays it.
        default_args={"owner": "xinyong", "retries": 1, "retry_delay": pendulum.duration(seconds=30)},
        tags=["xinyong", "ingest"],
        doc_md=__doc__,
    )
    def ingest_feed():
        @task.sensor(poke_interval=300, timeout=WAIT_SECONDS, mode="reschedule", soft_fail=True, retries=0)
        def wait_for_files(dag_run=None) -> PokeReturnValue:
            waiting = pipeline.ready_files(contract.feed)
            return PokeReturnValue(
                is_done=bool(waiting) or dag_run.run_type != "scheduled", xcom_value=waiting
            )

        @task(outlets=[Asset(pipeline.feed_asset_uri(contract.feed))])
        def ingest_landing_folder() -> dict:
            summary = pipeline.ingest_feed(contract.feed)
            if summary["rows_loaded"] == 0 and not pipeline.files_awaiting_build():
                raise AirflowSkipException(f"no new rows for {contract.feed}")
            return summary

        @task(trigger_rule="all_done", retries=0)
        def check_freshness() -> str:
            return pipeline.check_freshness(contract.feed)

        wait_for_files() >> ingest_landing_folder() >> check_freshness()

    return ingest_feed()


for _contract in pipeline.feeds():
    ingest_dag(_contract)
