"""
### Credit warehouse: write, audit, publish

Scheduled on the feed Assets (after any feed loaded new rows), on the cases Asset (a case
opened or decided: the Asset of `audit.cases`), and daily at 06:00 in
Asia/Shanghai, because publicity windows end and deadlines pass with the date alone.
`build_candidate` first asks whether anything changed since the last attempt that came to
a verdict (new files, a new evaluation date) and skips the run otherwise. The param
`evaluation_date` (YYYY-MM-DD) rebuilds a given day; left empty, the run speaks for the
date, in Asia/Shanghai, of its `run_after`. It is resolved once, in `build_candidate`, and
passed on to dbt, the gate and the outbox.
1. `build_candidate`: `dbt build` (seeds, models, dbt tests) into the candidate schema, incremental
   (README "Incremental build"); the param `full_refresh` recomputes all, even with nothing new.
2. `audit_candidate`: the Great Expectations gate on the candidate and the feeds
   (expectations/gx/, bounds in expectations/gate_policy.yml); Data Docs rebuilt.
3. `publish_candidate`: one transaction swaps the candidate into `publish` and
   re-applies the grants; then the outbox, the departments' lists and risk warnings, and
   the publication report.
4. `notify_departments` (whatever became of the steps before): mails the risk warnings
   and the notifications (quarantined files, a held or failed publication, stale feeds)
   through the SMTP connection `xinyong_smtp`, each once (audit.mail_ledger), and
   regenerates every department's page.
5. `document_publication`: dbt's static docs and the docs index (<home>/docs/index.html);
   off the critical path, it logs a failure and never fails the run.

A failure at any step leaves the last good publication in place; the reason (failing
expectation, masked rows, Data Docs page) is in `audit.publications` and this task's log.
A candidate failing only approvable gates is kept for `xinyong publish --approve`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, AssetAny, AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task
from airflow.sdk.exceptions import AirflowSkipException

from xinyong.app import pipeline

FEED_ASSETS = [Asset(pipeline.feed_asset_uri(contract.feed)) for contract in pipeline.feeds()]
# A case decided (xinyong/app/cases.py) brings no file: an event on this Asset runs the build now.
CASES_ASSET = Asset(pipeline.cases_asset_uri())


@dag(
    dag_id="credit_warehouse",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 6 * * *", timezone="Asia/Shanghai"),
        assets=AssetAny(*FEED_ASSETS, CASES_ASSET),
    ),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "xinyong", "retries": 0},
    tags=["xinyong", "warehouse", "publish"],
    doc_md=__doc__,
    params={
        "evaluation_date": Param(
            None,
            type=["null", "string"],
            format="date",
            description="the day to evaluate; empty: the run's date in Asia/Shanghai",
        ),
        "full_refresh": Param(False, type="boolean", description="recompute every entity"),
    },
)
def credit_warehouse():
    @task
    def build_candidate(params=None, dag_run=None) -> dict:
        day = pipeline.resolve_evaluation_date(params.get("evaluation_date"), dag_run.run_after)
        full_refresh = bool(params.get("full_refresh"))
        if not full_refresh and pipeline.build_reason(day) is None:
            pipeline.complete_delivery()
            raise AirflowSkipException(
                f"nothing new for {day} since the last attempt; the live publication stays"
            )
        return pipeline.build_candidate(day, full_refresh=full_refresh)

    @task
    def audit_candidate(candidate: dict) -> dict:
        return pipeline.audit_candidate(candidate)

    @task(outlets=[Asset(uri) for uri in pipeline.publish_asset_uris()])
    def publish_candidate(candidate: dict) -> dict:
        return pipeline.publish_candidate(candidate)

    @task(trigger_rule="all_done")
    def notify_departments() -> dict:
        return pipeline.notify_departments()

    @task
    def document_publication(published: dict) -> dict:
        return pipeline.document_publication(published)

    published = publish_candidate(audit_candidate(build_candidate()))
    published >> notify_departments()
    document_publication(published)


credit_warehouse()
