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

    _say(f"generating the {args.scale} scale (seed {args.seed}) into {out}")
    summary = generate.generate(args.scale, args.seed, out, progress=progress)
    files = summary.get("files", [])
    _say(f"wrote {len(files)} files; {summary.get('expected_entities', '?')} valid market entities")
    if args.second_day:
        from synthetic import second_day

        written = second_day.write(summary, out, Path(args.second_day).resolve(), args.seed)
        _say(f"second day's files (for a second run): {', '.join(map(str, written))}")
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
            env={
                **os.environ,
                **env,
                "XINYONG_PROGRESS_FD": str(write_fd),
                orchestrate.FULL_REFRESH_ENV: "1" if args.full_refresh else "",
            },
            pass_fds=(write_fd,),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    os.close(write_fd)
    totals = {"files": 0, "read": 0, "loaded": 0, "rejected": 0}
    outcome: dict = {}
    with os.fdopen(read_fd) as events, _StepProgress() as steps:
        for line in events:
            event = json.loads(line)
            if event["event"] == "progress":
                steps.update(event)
            else:
                if event["event"] == "dag_end":
                    steps.finish()
                _show(event, totals, outcome)
    code = child.wait()
    _summary(settings, url, totals, outcome, code, log_file)
    return 0 if code == 0 else 1


class _StepProgress:
    """One line per step (a feed's ingest, dbt, the GX gate) with its counts as they move,
    drawn by rich on a terminal; nothing when stdout is not one (a log, a pipe, cron)."""

    def __init__(self):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console()
        self.progress = Progress(
            TextColumn("  {task.description:<24}"),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]:<11} {task.fields[counts]}"),
            TimeElapsedColumn(),
            console=console,
            disable=not console.is_terminal,
        )
        self.drawn = console.is_terminal
        self.tasks: dict[str, int] = {}

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def finish(self) -> None:
        """The DAG's steps leave the live display as one final line each."""
        for task in self.progress.tasks:
            if self.drawn:
                line = f"  {task.description:<24} {task.completed:,.0f}/{task.total or 0:,.0f} {task.fields['unit']}"
                counts = task.fields["counts"]
                self.progress.console.print(
                    f"{line}{', ' + counts if counts else ''} in {task.elapsed or 0:.1f}s",
                    markup=False,
                    highlight=False,
                )
            self.progress.remove_task(task.id)
        self.tasks.clear()

    def update(self, event: dict) -> None:
        step, counts = event["step"], event.get("counts") or {}
        shown = ", ".join(f"{value:,} {name.replace('_', ' ')}" for name, value in counts.items() if value)
        if step not in self.tasks:
            self.tasks[step] = self.progress.add_task(
                step, total=event["total"], unit=event["unit"], counts=""
            )
        self.progress.update(self.tasks[step], completed=event["done"], total=event["total"], counts=shown)


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
    _say("      `xinyong api` serves loan platforms (docs at http://127.0.0.1:8000/docs), `make bi` the")
    _say("      dashboards, `make airflow` Airflow's UI, `xinyong report <USCC>` a credit report")


def _show_warnings(url: str, settings: config.Settings) -> None:
    """The live publication's risk warnings: per kind, per department, and the first few."""
    from xinyong.ingest import departments
    from xinyong.publication import department_pages, risk_warnings
    from xinyong.publication.schemas import LIVE
    from xinyong.runtime import warehouse

    with warehouse.transaction(url) as conn, conn.cursor() as cur:
        if not risk_warnings.exists(cur):
            return
        cur.execute(f"select title, count(*) from {LIVE}.{risk_warnings.TABLE} group by 1 order by 1")
        kinds = dict(cur.fetchall())
        per_department = risk_warnings.counts(cur)
        first = risk_warnings.read(cur, limit=10)
        cur.execute("select status, count(*) from audit.mail_ledger group by 1 order by 1")
        mails = ", ".join(f"{status} {n}" for status, n in cur.fetchall()) or (
            "none sent (mail needs the SMTP connection AIRFLOW_CONN_XINYONG_SMTP; "
            "the warnings are in the departments' folders and pages)"
        )
    if not kinds:
        _say("risk warnings: none against the previous publication (the first one is the baseline)")
        return
    _say(f"risk warnings: {sum(kinds.values())} ({', '.join(f'{k} {n}' for k, n in kinds.items())})")
    names = {d.department_code: d for d in departments.recipients()}
    for code, count in sorted(per_department.items()):
        page = department_pages.path(settings, names[code])
        _say(f"  to {names[code].name} ({code}): {count}; page {page}")
    for w in first:
        _say(
            f"  {w['title']}: {w['uscc'] or '-'} {w['subject_name'] or ''} {w['detail'] or ''} "
            f"[{w['evidence_feed']} {w['evidence_file']} row {w['evidence_row']}]"
        )
    _say(f"mails (audit.mail_ledger): {mails}")


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
        _show_warnings(url, settings)
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
    from xinyong.app import cases

    late = cases.warn_office_of_overdue(url, cases.today())
    if late:
        _say("")
        _say(f"overdue cases ({len(late)}): see `xinyong case show <id>`")
        for c in late:
            _say(
                f"  case {c['case_id']} {c['case_kind']} {c['record_kind']}:{c['record_key']} ({c['state']}, "
                f"{c['decided_by']}): {c['deadline_kind']} deadline {c['deadline']}"
            )
    if findings:
        _say("")
        _say("in the landing folder, taken up by no feed (not read):")
        for reason, first_seen in findings:
            _say(f"  {reason} (since {_local(first_seen):%Y-%m-%d %H:%M})")
    return 0


def cmd_case(args) -> int:
    """Objections and repair applications: open, forward, extend, decide, list, show."""
    from xinyong.app import cases

    settings = config.load()
    url = _warehouse(settings)
    on = dt.date.fromisoformat(args.on) if getattr(args, "on", None) else None
    try:
        if args.action == "list":
            for c in cases.list_cases(url, args.state, on):
                late = f"  OVERDUE ({c['overdue']})" if c["overdue"] else ""
                _say(
                    f"{c['case_id']:>5}  {c['case_kind']:<9} {c['state']:<9} {c['record_kind']}:{c['record_key']}  "
                    f"{c['subject_name'] or ''}  decide by {c['decide_by']}{late}"
                )
            return 0
        if args.action == "open":
            case = cases.open_case(
                url,
                args.kind,
                args.record_kind,
                args.record_key,
                args.applicant,
                args.grounds,
                args.attachment,
                args.by,
                on,
            )
        elif args.action == "forward":
            case = cases.forward(url, args.case_id, args.by, on, args.note or "")
        elif args.action == "extend":
            case = cases.extend(url, args.case_id, args.reason, args.by, on)
        elif args.action == "decide":
            case = cases.decide(url, args.case_id, args.outcome, args.note, args.by, on, args.source_answer)
        else:
            case = cases.show(url, args.case_id)
    except (cases.CaseError, LookupError) as exc:
        raise UserError(str(exc)) from None
    _show_case(case)
    if args.action == "decide" and args.publish:
        from xinyong.app import pipeline

        _say("publishing the decision now (build, gates, publish) ...")
        try:
            done = cases.publish_now(on)
        except pipeline.GateFailed as exc:
            raise UserError(f"the decision is recorded but not published: {exc}") from None
        _say(f"publication {done['publication_id']} is live" if done["publication_id"] else done["reason"])
    return 0


def _show_case(case: dict) -> None:
    _say(
        f"case {case['case_id']}: {case['case_kind']} about {case['record_kind']} {case['record_key']} "
        f"({case['subject_name'] or '-'}), {case['state']}"
    )
    _say(f"  applicant: {case['applicant']}; grounds: {case['grounds']}")
    if case["attachments"]:
        _say(f"  attachments: {', '.join(case['attachments'])}")
    _say(
        f"  decided by: {case['decided_by']}; forward by {case['acknowledge_by']}, decide by "
        f"{case['decide_by']}{' (extended)' if case['extended'] else ''}"
    )
    if case["failed_rule"]:
        _say(f"  failed rule: {case['failed_rule']}")
    if case["source_answer"]:
        _say(f"  source department's answer: {case['source_answer']}")
    for e in case["events"]:
        _say(
            f"  {_local(e['recorded_at']):%Y-%m-%d %H:%M} {e['recorded_by']}: {e['from_state'] or '-'} -> "
            f"{e['to_state']} (effective {e['effective_on']}){': ' + e['note'] if e['note'] else ''}"
        )


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
    notified = pipeline.notify_departments()  # its risk warnings mailed, the department pages
    _say(
        f"publication {done['publication_id']} approved by {done['approved_by']} and live in schema `publish`"
    )
    _say(f"  report: {artifacts['report']}")
    _say(f"  risk warnings to {len(artifacts['risk_warnings'])} department(s); mails: {notified['mails']}")
    for consumer, folder in artifacts["outbox"].items():
        _say(f"  outbox ({consumer}): {folder}")
    return 0


def cmd_airflow(args) -> int:
    """Airflow's UI and services on this machine, until Ctrl-C."""
    from xinyong.app import local_airflow

    settings = config.load()
    url = _warehouse(settings)
    return local_airflow.serve(settings, url, args.port, _say)


def cmd_report(args) -> int:
    """The one-entity credit report of the live publication, as HTML and PDF."""
    from xinyong.publication import credit_report
    from xinyong.runtime import warehouse

    settings = config.load()
    url = _warehouse(settings)
    out = Path(args.out) if args.out else settings.reports / "credit"
    conn = warehouse.connect(url)
    try:
        files = credit_report.write(conn, args.uscc, out, pdf=not args.html_only)
    except (credit_report.ReportError, credit_report.EntityNotFound) as exc:
        raise UserError(str(exc)) from None
    finally:
        conn.close()
    for path in files:
        _say(str(path))
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


def cmd_api(args) -> int:
    """Serve the credit query API, or register a client or a batch agreement."""
    from xinyong.api import clients, serve

    settings = config.load()
    url = _warehouse(settings)
    try:
        if args.api_command == "client":
            clients.prepare(url)
            client, key = clients.add_client(url, args.name, args.uscc, args.rate_limit)
            _say(f"client {client.client_id}: {client.name} ({client.institution_uscc}), {client.rate_limit}")
            _say(f"API key (shown once, stored only as its argon2 hash): {key}")
            return 0
        if args.api_command == "agreement":
            clients.prepare(url)
            agreement = clients.add_agreement(
                url, args.client, args.no, args.town, args.valid_from, args.valid_to
            )
            _say(f"batch agreement {agreement} ({args.no}): client {args.client} with {args.town}")
            return 0
    except clients.ClientError as exc:
        raise UserError(str(exc)) from None
    _say(
        f"credit query API on http://{args.host}:{args.port} (docs at /docs), warehouse {_where(settings, url)}"
    )
    serve.serve(url, args.host, args.port)
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
    p.add_argument("--scale", choices=["sample", "district", "city"], default="sample")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default=os.environ.get("XINYONG_LANDING", "landing"))
    p.add_argument(
        "--second-day",
        metavar="DIR",
        help="also write a second day's files into DIR (the tax bureau re-rates a few subjects D)",
    )
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("run", help="run the daily pipeline through Airflow")
    p.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild the warehouse whole (every entity recomputed) instead of incrementally",
    )
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

    p = sub.add_parser("report", help="the one-entity credit report (HTML and PDF) of the live publication")
    p.add_argument("uscc", metavar="USCC", help="统一社会信用代码 of a market entity")
    p.add_argument("--out", help="folder for the files (default: XINYONG_HOME/reports/credit)")
    p.add_argument("--html-only", action="store_true", help="write the HTML only (no Chromium needed)")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("case", help="objections (异议) and repair applications (信用修复)")
    case = p.add_subparsers(dest="action", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--by", help="who records it (default: XINYONG_APPROVER or the OS user)")
    common.add_argument("--on", help="the day it counts for (default: XINYONG_EVALUATION_DATE, else today)")
    c = case.add_parser("open", parents=[common], help="receive an objection or repair application")
    c.add_argument("kind", choices=["objection", "repair"])
    c.add_argument("record_kind", help="a record kind of the seed case_record_kinds (penalty, parking, ...)")
    c.add_argument("record_key", help="the record's key in its published table (决定书文号, USCC, ...)")
    c.add_argument("--applicant", required=True)
    c.add_argument("--grounds", required=True)
    c.add_argument("--attachment", action="append", default=[], help="a file reference (repeatable)")
    c = case.add_parser("forward", parents=[common], help="send a received case to the source department")
    c.add_argument("case_id", type=int)
    c.add_argument("--note")
    c = case.add_parser("extend", parents=[common], help="extend the decision deadline (once)")
    c.add_argument("case_id", type=int)
    c.add_argument("--reason", required=True)
    c = case.add_parser("decide", parents=[common], help="decide a case and publish the decision now")
    c.add_argument("case_id", type=int)
    c.add_argument("outcome", choices=["upheld", "rejected", "granted", "refused"])
    c.add_argument("--note", required=True, help="the reasons of the decision")
    c.add_argument("--source-answer", help="the answer of the department the case was forwarded to")
    c.add_argument(
        "--no-publish",
        dest="publish",
        action="store_false",
        help="record only; the next credit_warehouse run publishes it",
    )
    c = case.add_parser("list", parents=[common], help="cases, overdue ones marked")
    c.add_argument("--state", help="a state, or `open`")
    c = case.add_parser("show", help="one case and its trail")
    c.add_argument("case_id", type=int)
    p.set_defaults(func=cmd_case)

    p = sub.add_parser("setup", help="prepare the warehouse and Airflow's metadata database")
    p.set_defaults(func=cmd_setup)

    p = sub.add_parser("airflow", help="Airflow's UI, scheduler and DAG processor on this machine")
    p.add_argument("--port", type=int, default=int(os.environ.get("XINYONG_AIRFLOW_PORT", 8080)))
    p.set_defaults(func=cmd_airflow)

    p = sub.add_parser("contracts", help="export the feed contracts as Frictionless Table Schemas")
    p.add_argument("action", choices=["export"])
    p.add_argument("--out", required=True, help="folder for <feed>.schema.json")
    p.set_defaults(func=cmd_contracts)

    p = sub.add_parser("api", help="serve the credit query API; register its clients and batch agreements")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_api, api_command=None)
    api = p.add_subparsers(dest="api_command")
    client = api.add_parser("client", help="register a lender as a client; prints its key once")
    client.add_argument("action", choices=["add"])
    client.add_argument("--name", required=True, help="the institution's name")
    client.add_argument("--uscc", required=True, help="the 金融机构's 统一社会信用代码")
    client.add_argument("--rate-limit", default="600/minute", help="e.g. 600/minute (default)")
    agreement = api.add_parser("agreement", help="record a 批量授信 agreement between a client and a town")
    agreement.add_argument("action", choices=["add"])
    agreement.add_argument("--client", type=int, required=True, help="client id")
    agreement.add_argument("--no", required=True, help="the agreement's number")
    agreement.add_argument("--town", required=True)
    agreement.add_argument("--valid-from", required=True, help="YYYY-MM-DD")
    agreement.add_argument("--valid-to", required=True, help="YYYY-MM-DD")
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
