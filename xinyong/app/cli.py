"""`xinyong`: the command line of the platform."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from xinyong.runtime import config

STATUS_MARK = {
    "loaded": "ok",
    "loaded_with_rejects": "ok*",
    "quarantined": "QUARANTINED",
    "unreadable": "UNREADABLE",
    "duplicate": "duplicate",
    "already_loaded": "ok",
}


class UserError(RuntimeError):
    """Stops the command with one plain sentence, no traceback."""


def _local(moment: dt.datetime) -> dt.datetime:
    """Times are shown as the district reads its clocks."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Asia/Shanghai"))


def _say(text: str = "") -> None:
    print(text, flush=True)


def _where(settings: config.Settings, url: str) -> str:
    if settings.embedded:
        return f"embedded PostgreSQL on 127.0.0.1:{settings.embedded_port} (data in {settings.home / 'pg'})"
    from xinyong.runtime.warehouse import redacted

    return redacted(url)


def _warehouse(settings: config.Settings) -> str:
    from xinyong.ingest import schema
    from xinyong.runtime import embedded, warehouse

    try:
        url = warehouse.url(settings)
        with warehouse.transaction(url) as conn:
            schema.ensure(conn)
        return url
    except (embedded.EmbeddedServerError, warehouse.WarehouseError) as exc:
        raise UserError(str(exc)) from None


# ---------------------------------------------------------------- commands


def cmd_db(args) -> int:
    from xinyong.runtime import embedded

    settings = config.load()
    if args.action == "stop":
        _say(
            "embedded PostgreSQL stopped"
            if embedded.stop(settings.home)
            else "embedded PostgreSQL was not running"
        )
        return 0
    url = _warehouse(settings)
    _say(url if args.action == "url" else f"warehouse ready: {_where(settings, url)}")
    return 0


def cmd_setup(args) -> int:
    """Everything `run` needs, without running: warehouse, schemas, Airflow metadata DB."""
    from xinyong.app import orchestrate

    settings = config.load()
    url = _warehouse(settings)
    _say(f"warehouse: {_where(settings, url)}")
    env = orchestrate.airflow_env(settings, url)
    log_file = _log_file(settings, "setup")
    orchestrate.ensure_airflow_db(env, log_file)
    _say(f"airflow:   AIRFLOW_HOME={env['AIRFLOW_HOME']} (metadata database migrated)")
    return 0


def cmd_generate(args) -> int:
    from synthetic import generate

    out = Path(args.out).resolve()
    last = {}

    def progress(feed: str, done: int, total: int) -> None:
        if done == total or done - last.get(feed, 0) >= max(total // 10, 1):
            last[feed] = done
            _say(f"  {feed:<18} {done:>9,} / {total:,} rows")

    _say(f"generating a {args.scale} district (seed {args.seed}) into {out}")
    summary = generate.generate(args.scale, args.seed, out, progress=progress)
    files = summary.get("files", [])
    _say(f"wrote {len(files)} files; {summary.get('expected_entities', '?')} valid market entities")
    return 0


def _log_file(settings: config.Settings, label: str) -> Path:
    folder = settings.home / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{label}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.log"


def cmd_run(args) -> int:
    from xinyong.app import orchestrate

    settings = config.load()
    if not settings.landing.is_dir():
        raise UserError(
            f"The landing folder {settings.landing} does not exist; set XINYONG_LANDING "
            f"or create it with `xinyong generate --out {settings.landing}`."
        )
    url = _warehouse(settings)
    log_file = _log_file(settings, "run")
    _say("Xinyong daily run")
    _say(f"  landing:   {settings.landing}")
    _say(f"  warehouse: {_where(settings, url)}")
    _say(f"  log:       {log_file}")
    env = orchestrate.airflow_env(settings, url)
    _say("  preparing Airflow (first run migrates its metadata database) ...")
    orchestrate.ensure_airflow_db(env, log_file)

    read_fd, write_fd = os.pipe()
    with log_file.open("a") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "xinyong.app.orchestrate"],
            env={**os.environ, **env, "XINYONG_PROGRESS_FD": str(write_fd)},
            pass_fds=(write_fd,),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    os.close(write_fd)
    totals = {"files": 0, "read": 0, "loaded": 0, "rejected": 0}
    outcome: dict = {}
    with os.fdopen(read_fd) as events:
        for line in events:
            event = json.loads(line)
            _show(event, totals, outcome)
    code = child.wait()
    _summary(settings, url, totals, outcome, code, log_file)
    return 0 if code == 0 else 1


def _show(event: dict, totals: dict, outcome: dict) -> None:
    kind = event["event"]
    if kind == "dag_start":
        _say(
            f"  > airflow dag {event['dag_id']} ..."
            + (f" ({event['reason']})" if event.get("reason") else "")
        )
    elif kind == "dag_end":
        _say(f"    {event['state']} in {event['seconds']}s")
        for f in event.get("files", []):
            totals["files"] += 1
            totals["read"] += f["rows_read"]
            totals["loaded"] += f["rows_loaded"]
            totals["rejected"] += f["rows_rejected"]
            line = (
                f"    {STATUS_MARK.get(f['status'], f['status']):<11} {f['file_name']}: read {f['rows_read']:,}, "
                f"loaded {f['rows_loaded']:,}, rejected {f['rows_rejected']:,}"
            )
            _say(line)
            if f.get("message"):
                _say(f"                {f['message']}")
            if f.get("report_path"):
                _say(f"                report: {f['report_path']}")
        if event.get("publication"):
            outcome["publication"] = event["publication"]
    elif kind == "landing":
        outcome["landing"] = event["findings"]
        for finding in event["findings"]:
            _say(f"  LANDING: {finding['reason']}")
    elif kind == "stale":
        outcome.setdefault("stale", []).append(event["message"])
        _say(f"    FRESHNESS ALERT: {event['message']}")
    elif kind == "unchanged":
        outcome["unchanged"] = event["publication"]
    elif kind == "error":
        outcome["error"] = event["message"]
        _say(f"  ERROR: {event['message']}")


def _summary(settings, url, totals, outcome, code, log_file) -> None:
    from xinyong.runtime import warehouse

    _say("")
    _say(
        f"files processed: {totals['files']}   rows read: {totals['read']:,}   "
        f"loaded: {totals['loaded']:,}   rejected: {totals['rejected']:,}"
    )
    if outcome.get("landing"):
        _say(
            f"landing: {len(outcome['landing'])} entr{'y' if len(outcome['landing']) == 1 else 'ies'} "
            "no feed takes up, not read (see audit.landing_findings)"
        )
    if outcome.get("stale"):
        _say(f"freshness alerts: {len(outcome['stale'])} feed(s) late (see audit.freshness_alerts)")
    if "unchanged" in outcome:
        pub = outcome["unchanged"]
        if pub:
            _say(f"no new data: publication {pub['publication_id']} stays as it was")
        else:
            _say("no new data since the last attempt, which was not published: see `xinyong status`")
    publication = outcome.get("publication")
    if publication and publication["status"] == "published":
        _say(f"publication {publication['publication_id']} is live in schema `publish`")
    elif publication:
        _say(f"NOT PUBLISHED (attempt {publication['publication_id']}): {publication['reason']}")
        _say("the previous publication, if any, is unchanged")
    if publication and (publication.get("artifacts") or {}).get("report"):
        _say(f"publication report: {publication['artifacts']['report']}")
    if code != 0 and not publication and "error" not in outcome:
        _say(f"the run failed before publishing; see {log_file}")
    with warehouse.transaction(url) as conn, conn.cursor() as cur:
        cur.execute(
            "select 1 from information_schema.tables where table_schema = 'publish' "
            "and table_name = 'entity_credit_profile'"
        )
        if cur.fetchone():
            cur.execute(
                "select tier, count(*) from publish.entity_credit_profile group by tier order by tier"
            )
            tiers = "  ".join(f"{t}: {n:,}" for t, n in cur.fetchall())
            _say(f"entities per tier: {tiers}")
    _say("")
    _say("next: `xinyong status` for freshness and the latest publication;")
    _say(f"      department reports in {settings.reports / 'departments'}; full log in {log_file}")


def cmd_status(args) -> int:
    from xinyong.ingest import freshness
    from xinyong.publication import publish
    from xinyong.runtime import warehouse

    settings = config.load()
    url = _warehouse(settings)
    live = publish.current(url)
    _say(f"warehouse: {_where(settings, url)}")
    if live:
        counts = ", ".join(f"{k} {v:,}" for k, v in (live["row_counts"] or {}).items())
        _say(
            f"publication {live['publication_id']} live since {_local(live['finished_at']):%Y-%m-%d %H:%M} "
            f"(evaluation date {live['evaluation_date']}): {counts}"
        )
        if (live.get("artifacts") or {}).get("report"):
            _say(f"publication report: {live['artifacts']['report']}")
    else:
        _say("no publication yet: run `xinyong run`")
    with warehouse.transaction(url) as conn, conn.cursor() as cur:
        cur.execute("""select publication_id, status, reason, started_at, artifacts->>'report', held_schema
                       from audit.publications order by publication_id desc limit 1""")
        last = cur.fetchone()
        if last:
            _say(
                f"last run: attempt {last[0]} {last[1]} at {_local(last[3]):%Y-%m-%d %H:%M}"
                + (f": {last[2].splitlines()[0]}" if last[2] else "")
            )
            if last[4] and (not live or live["publication_id"] != last[0]):
                _say(f"  its report: {last[4]}")
            if last[5]:
                _say(f'  candidate kept as `{last[5]}`: `xinyong publish --approve {last[0]} --reason "..."`')
        _say("")
        _say(
            f"{'feed':<18} {'latest as-of':<12} {'received':<17} {'files':>5} {'rejected rows':>13}  freshness"
        )
        cur.execute(
            """select feed, count(*), coalesce(sum(rows_rejected), 0) from audit.feed_files group by feed"""
        )
        files_by_feed = {feed: (n, rejected) for feed, n, rejected in cur.fetchall()}
        cur.execute("""select reason, first_seen from audit.landing_findings where resolved_at is null
                       order by entry""")
        findings = cur.fetchall()
    for fresh in freshness.status(url):
        files, rejected = files_by_feed.get(fresh.feed, (0, 0))
        verdict = (
            "ok"
            if not fresh.stale
            else (
                "NO DATA"
                if fresh.last_received is None
                else f"STALE ({fresh.age_days:.0f} days, cadence {fresh.cadence_days})"
            )
        )
        received = _local(fresh.last_received).strftime("%Y-%m-%d %H:%M") if fresh.last_received else "-"
        _say(
            f"{fresh.feed:<18} {str(fresh.last_as_of or '-'):<12} {received:<17} {files:>5} {rejected:>13,}  {verdict}"
        )
    if findings:
        _say("")
        _say("in the landing folder, taken up by no feed (not read):")
        for reason, first_seen in findings:
            _say(f"  {reason} (since {_local(first_seen):%Y-%m-%d %H:%M})")
    return 0


def cmd_publish(args) -> int:
    """Roll back to the previous publication, or release a held candidate with an approval."""
    from xinyong.app import pipeline
    from xinyong.publication import publish

    settings = config.load()
    url = _warehouse(settings)
    try:
        if args.rollback:
            done = publish.rollback(url, by=args.by)
            _say(
                f"publication {done['restored']} is live again in schema `publish`; "
                f"publication {done['rolled_back']} rolled back by {done['by']} (kept as `{publish.ROLLED_BACK}`)"
            )
            return 0
        done = publish.approve(url, args.approve, args.reason, by=args.by)
    except publish.PublishError as exc:
        raise UserError(str(exc)) from None
    artifacts = pipeline.deliver(url, args.approve, done["evaluation_date"])
    _say(
        f"publication {done['publication_id']} approved by {done['approved_by']} and live in schema `publish`"
    )
    _say(f"  report: {artifacts['report']}")
    for consumer, folder in artifacts["outbox"].items():
        _say(f"  outbox ({consumer}): {folder}")
    return 0


def cmd_contracts(args) -> int:
    """Export every feed contract as a Frictionless Table Schema a department can check files with."""
    from xinyong.ingest import contracts

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for feed, contract in contracts.load_all().items():
        path = out / f"{feed}.schema.json"
        path.write_text(
            json.dumps(contracts.table_schema(contract), ensure_ascii=False, indent=2) + "\n",
            encoding="utf-8",
        )
        _say(f"  {path}")
    return 0


def cmd_bi(args) -> int:
    """Superset over the live publication (`serve`), or only its dashboards (`provision`, the
    compose file's superset-setup: Superset elsewhere, admin and reader passwords from the env)."""
    from xinyong.app import bi
    from xinyong.publication import publish

    settings = config.load()
    if args.action == "provision":
        if args.wait:  # the compose file starts Superset before the first publication exists
            import time

            while publish.current(_warehouse(settings)) is None:
                _say("waiting for the first live publication ...")
                time.sleep(60)
        api = bi.Superset(
            args.url,
            os.environ.get("SUPERSET_ADMIN_USER", bi.ADMIN_USER),
            os.environ["SUPERSET_ADMIN_PASSWORD"],
        )
        done = bi.provision(api, bi.reader_uri(settings, os.environ.get("BI_READER_PASSWORD")))
        for note in done.left_out:
            _say(f"left out, not published yet: {note}")
        _say(f"provisioned {len(done.dashboards)} dashboards, {len(done.charts)} charts in {args.url}")
        return 0
    url = _warehouse(settings)
    if publish.current(url) is None:
        raise UserError("no live publication yet: run `make demo` (or `xinyong run`) first")
    if not bi.superset_bin().exists():
        raise UserError(f"Superset is not installed in {bi.BI_VENV}: run `make bi-install`")
    return bi.run(settings, args.port, say=_say)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xinyong", description="Xinyong public credit data platform")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("generate", help="write a synthetic district's department feed files")
    p.add_argument("--scale", choices=["sample", "district"], default="sample")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default=os.environ.get("XINYONG_LANDING", "landing"))
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("run", help="run the daily pipeline through Airflow")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("status", help="latest publication, feed freshness, last run")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("publish", help="roll back the live publication, or approve a held one")
    action = p.add_mutually_exclusive_group(required=True)
    action.add_argument("--rollback", action="store_true", help="put the previous publication back")
    action.add_argument(
        "--approve",
        type=int,
        metavar="PUBLICATION_ID",
        help="release a candidate whose only gate failures are approvable",
    )
    p.add_argument("--reason", help="why the approval is justified (required with --approve)")
    p.add_argument("--by", help="who approves / rolls back (default: XINYONG_APPROVER or the OS user)")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("setup", help="prepare the warehouse and Airflow's metadata database")
    p.set_defaults(func=cmd_setup)

    p = sub.add_parser("contracts", help="export the feed contracts as Frictionless Table Schemas")
    p.add_argument("action", choices=["export"])
    p.add_argument("--out", required=True, help="folder for <feed>.schema.json")
    p.set_defaults(func=cmd_contracts)

    p = sub.add_parser("bi", help="Apache Superset with the dashboards over the live publication")
    p.add_argument("action", choices=["serve", "provision"], nargs="?", default="serve")
    p.add_argument("--port", type=int, default=8088, help="serve: Superset's port on 127.0.0.1")
    p.add_argument("--url", default="http://superset:8088", help="provision: Superset's address")
    p.add_argument("--wait", action="store_true", help="provision: wait for a live publication first")
    p.set_defaults(func=cmd_bi)

    p = sub.add_parser("db", help="the embedded PostgreSQL")
    p.add_argument("action", choices=["start", "stop", "url"])
    p.set_defaults(func=cmd_db)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"xinyong: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # the warehouse went away mid-command: one sentence, no traceback
        from xinyong.runtime.warehouse import WarehouseError

        if not isinstance(exc, WarehouseError):
            raise
        print(f"xinyong: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xinyong: interrupted; run the same command again to continue", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
