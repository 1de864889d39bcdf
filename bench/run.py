"""`make bench`: measure on a district-scale feed set, print a table, save the results.

    python -m bench.run [--scale sample|district|city] [--seed 1] [--only NAME ...] [--repeat N]

Generates the district once (cached under `<XINYONG_HOME>/bench/`), starts an embedded
PostgreSQL of its own there, gives every measurement a fresh database and runs it in a
child process (its peak RSS is the child's high-water mark, `ru_maxrss`). Results go to
`bench/results/<timestamp>.json` and `.md`, and `bench/results/latest.md`. Nothing here
asserts a time: benchmarks inform, tests decide.

`--scale city` runs the city's phases (`bench/city.py`: city_first_load, city_daily_run,
city_full_rebuild), in that order, one at a time with `--only`: on a server and database
of their own kept between runs, and with the latest result of every phase kept, so the
table and the derived figures combine phases of separate runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import bench
from bench import Context
from bench import ingest as bench_ingest

# Modules whose @measurement / @derived functions the runner knows about.
MODULES = ["bench.ingest", "bench.warehouse", "bench.api", "bench.city"]
RESULTS = Path(__file__).resolve().parent / "results"


def load_modules() -> None:
    for name in MODULES:
        importlib.import_module(name)


def _say(text: str = "") -> None:
    print(text, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def district(home: Path, scale: str, seed: int) -> Path:
    """The generated feed files, reused when already there (generated into a temporary folder first)."""
    from synthetic import generate

    target = home / "bench" / f"{scale}-seed{seed}"
    if (target / generate.MANIFEST_NAME).exists():
        _say(f"district: reusing {target}")
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    _say(f"district: generating --scale {scale} --seed {seed} into {target} (once)")
    last: dict[str, int] = {}

    def progress(feed: str, done: int, total: int) -> None:
        if done == total or done - last.get(feed, 0) >= max(total // 5, 1):
            last[feed] = done
            _say(f"  {feed:<18} {done:>9,} / {total:,} rows")

    generate.generate(scale, seed, partial, progress=progress)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def fresh_database(server, name: str) -> str:
    from xinyong.ingest import schema
    from xinyong.runtime import warehouse

    server.admin(f'drop database if exists "{name}" with (force)')
    server.create_database(name)
    url = server.url(name)
    with warehouse.transaction(url) as conn:
        schema.ensure(conn)
    return url


def drop_database(server, name: str) -> None:
    server.admin(f'drop database if exists "{name}" with (force)')


def run_child(name: str, ctx: Context) -> dict:
    """One measurement in a child process; its result dict plus the child's peak RSS."""
    cmd = [
        sys.executable,
        "-m",
        "bench.run",
        "--child",
        name,
        "--district",
        str(ctx.district),
        "--url",
        ctx.warehouse_url,
        "--scratch",
        str(ctx.scratch),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
    if done.returncode != 0:
        raise RuntimeError(f"measurement {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child_main(name: str, ctx: Context) -> int:
    load_modules()
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = bench.MEASUREMENTS[name].run(ctx)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    result.update(peak_rss_mib=round(peak / 1024, 1), baseline_rss_mib=round(baseline / 1024, 1))
    print(json.dumps(result, default=str))
    return 0


def environment(server_url: str, district_dir: Path, scale: str, seed: int) -> dict:
    import psycopg2

    from xinyong.runtime.config import PROJECT_ROOT

    with psycopg2.connect(server_url) as conn, conn.cursor() as cur:
        cur.execute("show server_version")
        pg_version = cur.fetchone()[0]
    conn.close()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=PROJECT_ROOT
    ).stdout.strip()
    dirty = bool(
        subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
        ).stdout.strip()
    )
    return {
        "scale": scale,
        "seed": seed,
        "district": str(district_dir),
        "python": platform.python_version(),
        "postgresql": pg_version,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "commit": commit + ("+changes" if dirty else ""),
        # other work on the machine slows the ingest more than COPY: read the ratio with it
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def render_markdown(report: dict) -> str:
    env = report["environment"]
    lines = [
        f"# Xinyong benchmark, {report['started_at']}",
        "",
        f"Generated data, scale `{env['scale']}`, seed {env['seed']}; PostgreSQL {env['postgresql']}, "
        f"Python {env['python']}, {env['machine']} (load average {env['load_average']} at start), "
        f"commit {env['commit']}.",
        "",
        "| measurement | rows | seconds | rows/s | peak RSS (MiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    if env.get("failed"):
        lines[-2:-2] = [
            "**Failed**, so this report holds only the phases that finished (each says when it ran): "
            + env["failed"].replace("\n", " "),
            "",
        ]
    for name, r in report["measurements"].items():
        lines.append(
            f"| {name}: {r['title']} | {r['rows']:,} | {r['seconds']:.1f} | "
            f"{r['rows_per_second']:,.0f} | {r['peak_rss_mib']:,.0f} |"
        )
    phases = {name: r for name, r in report["measurements"].items() if "database_mib" in r}
    if phases:  # the city's phases: when, on which code, under which load; memory and size
        from bench import city

        lines += [
            "",
            "| phase | ran at | commit | load average | peak RSS of any process (MiB) | "
            "PostgreSQL processes' sum (MiB) | database after (MiB) |",
            "|---|---|---|---|---:|---:|---:|",
        ]
        for name, r in phases.items():
            # a resumed first load's seconds are its ingest's plus the resumed run's, not a whole first load
            resumed = " (resumed after its ingest)" if r.get("resumed_after_ingest") else ""
            lines.append(
                f"| {name}{resumed} | {r.get('ran_at', '')} | {r.get('commit', '')} | {r.get('load_average', '')} | "
                f"{max(r['peak_rss_any_process_mib'], city.phase_own_peak(r)):,.0f} | "
                f"{r['peak_rss_server_sum_mib']:,.0f} | {r['database_mib']:,.0f} |"
            )
    for name, r in report["measurements"].items():
        if r.get("profile"):  # the statements of the kept (fastest) run, the slower first
            lines += [
                "",
                f"Where {name}'s {r['seconds']:.2f} s went: its SQL statements of "
                f"{bench_ingest.PROFILE_MIN_SECONDS * 1000:g} ms or more, by connection "
                "(2: the side connection checking distinct values while COPY runs); "
                "what no statement accounts for is Python before, between and after them.",
                "",
                "| connection | first started at (s) | times | seconds | statement |",
                "|---:|---:|---:|---:|---|",
            ]
            for step in sorted(r["profile"], key=lambda step: -step["seconds"]):
                if step["seconds"] < bench_ingest.PROFILE_MIN_SECONDS:
                    continue
                statement = step["statement"].replace("|", "\\|")
                lines.append(
                    f"| {step['connection']} | {step['at_s']:.3f} | {step['times']} | {step['seconds']:.3f} | "
                    f"`{statement}` |"
                )
    lines += ["", "| figure | value | target |", "|---|---:|---|"]
    for name, d in report["derived"].items():
        value = "n/a" if d["value"] is None else f"{d['value']:,.2f}"
        lines.append(f"| {name}: {d['title']} | {value} | {d['target']} |")
    return "\n".join(lines) + "\n"


def print_table(report: dict) -> None:
    _say()
    _say(f"{'measurement':<18} {'rows':>11} {'seconds':>9} {'rows/s':>11} {'peak RSS':>10}")
    for name, r in report["measurements"].items():
        _say(
            f"{name:<18} {r['rows']:>11,} {r['seconds']:>9.1f} {r['rows_per_second']:>11,.0f} "
            f"{r['peak_rss_mib']:>7,.0f} MiB"
        )
    _say()
    for name, d in report["derived"].items():
        value = "n/a" if d["value"] is None else f"{d['value']:,.2f}"
        _say(f"{name:<22} {value:>10}   target {d['target']:<8} {d['title']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="district", choices=["sample", "district", "city"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", nargs="*", help="measurement names (default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; the fastest is kept")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--district", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args.child, Context(Path(args.district), args.url, Path(args.scratch)))

    from xinyong.runtime import config, embedded

    load_modules()
    known = [name for name, m in bench.MEASUREMENTS.items() if args.scale in m.scales]
    names = args.only or known
    unknown = set(names) - set(known)
    if unknown:
        parser.error(
            f"unknown measurement(s) at --scale {args.scale}: {', '.join(sorted(unknown))}; "
            f"known: {', '.join(known)}"
        )
    started_at = dt.datetime.now().astimezone()
    home = config.load().home
    district_dir = district(home, args.scale, args.seed)
    if args.scale == "city":
        return city_main(args, names, home, district_dir, started_at)
    server_home = home / "bench"
    embedded.stop(server_home)  # a server left by an interrupted run would hold another port
    port = int(os.environ.get("XINYONG_BENCH_PG_PORT") or _free_port())
    server = embedded.ensure_running(server_home, port)
    _say(f"embedded PostgreSQL for the bench on 127.0.0.1:{port} (data in {server.data_dir})")
    results: dict[str, dict] = {}
    try:
        env = environment(server.url("postgres"), district_dir, args.scale, args.seed)
        for name in names:
            runs = []
            for attempt in range(args.repeat):
                _say(f"> {name} ({attempt + 1}/{args.repeat}): {bench.MEASUREMENTS[name].title}")
                database = f"bench_{name}"
                scratch = home / "bench" / "scratch" / name
                shutil.rmtree(scratch, ignore_errors=True)
                scratch.mkdir(parents=True)
                try:
                    runs.append(
                        run_child(name, Context(district_dir, fresh_database(server, database), scratch))
                    )
                finally:
                    drop_database(server, database)
                    shutil.rmtree(scratch, ignore_errors=True)
                _say(
                    f"  {runs[-1]['rows']:,} rows in {runs[-1]['seconds']:.1f} s, "
                    f"peak RSS {runs[-1]['peak_rss_mib']:,.0f} MiB"
                )
            best = min(runs, key=lambda r: r["seconds"])
            best.update(
                title=bench.MEASUREMENTS[name].title,
                runs_seconds=[round(r["seconds"], 2) for r in runs],
                rows_per_second=best["rows"] / best["seconds"] if best["seconds"] else 0.0,
                peak_rss_mib=max(r["peak_rss_mib"] for r in runs),
            )
            results[name] = best
    finally:
        embedded.stop(server_home)
    save_report(started_at, env, results, args.scale)
    return 0


def save_report(started_at: dt.datetime, env: dict, results: dict[str, dict], scale: str) -> None:
    report = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "environment": env,
        "measurements": results,
        "derived": {
            d.name: {"title": d.title, "target": d.target, "value": d.compute(results)}
            for d in bench.DERIVED.values()
            if scale in d.scales
        },
    }
    print_table(report)
    RESULTS.mkdir(exist_ok=True)
    stamp = started_at.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"{stamp}.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
    )
    markdown = render_markdown(report)
    (RESULTS / f"{stamp}.md").write_text(markdown, encoding="utf-8")
    (RESULTS / "latest.md").write_text(markdown, encoding="utf-8")
    _say(f"\nsaved bench/results/{stamp}.json, {stamp}.md and latest.md")


def city_main(args, names: list[str], home: Path, data_dir: Path, started_at: dt.datetime) -> int:
    """The city's phases: one server (`<home>/bench/city-pg`) and database (`bench_city`) kept
    between runs; city_first_load starts the database afresh, the others continue it."""
    from bench import city
    from xinyong.runtime import embedded

    if args.repeat != 1:
        raise SystemExit("--repeat: a city phase changes the database it measures; run it again instead")
    server_home = home / "bench" / city.SERVER_FOLDER
    work = home / "bench" / city.WORK_FOLDER
    work.mkdir(parents=True, exist_ok=True)
    port = int(os.environ.get("XINYONG_BENCH_PG_PORT") or _free_port())
    embedded.stop(server_home)
    server = embedded.ensure_running(server_home, port)
    os.environ[city.PGDATA_ENV] = str(server.data_dir)  # the child samples its processes
    _say(f"embedded PostgreSQL for the city on 127.0.0.1:{port} (data in {server.data_dir})")
    failed = None
    try:
        env = environment(server.url("postgres"), data_dir, args.scale, args.seed)
        for name in sorted(names, key=city.PHASES.index):
            _say(f"> {name}: {bench.MEASUREMENTS[name].title}")
            fresh = name == city.PHASES[0] and city.ingest_to_resume(work) is None
            url = fresh_database(server, city.DATABASE) if fresh else server.url(city.DATABASE)
            try:
                result = run_child(name, Context(data_dir, url, work))
            except RuntimeError as error:
                # hours of earlier phases are still worth a report: it says which one failed
                env["failed"] = (
                    f"{name} ({dt.datetime.now().astimezone():%Y-%m-%d %H:%M}): {str(error)[-600:]}"
                )
                _say(str(error))
                failed = name
                break
            result.update(
                title=bench.MEASUREMENTS[name].title,
                rows_per_second=result["rows"] / result["seconds"] if result["seconds"] else 0.0,
                ran_at=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                commit=env["commit"],
                load_average=" ".join(f"{x:.2f}" for x in os.getloadavg()),
            )
            city.save_phase(work, name, result)
            _say(
                f"  {result['seconds']:.1f} s, peak RSS of any process {result['peak_rss_any_process_mib']:,.0f} MiB"
            )
    finally:
        embedded.stop(server_home)
    results = city.phase_results(work)
    if failed:
        # an earlier run's result for the phase that just failed describes another database
        results.pop(failed, None)
    save_report(started_at, env, results, args.scale)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
