"""Where a build's slowest models spend their time: EXPLAIN ANALYZE of their compiled SQL.

    python -m bench.explain DBT_TARGET_DIR [--url URL] [--top 6] [--out FILE]

DBT_TARGET_DIR is the target path of a finished dbt run (its `run_results.json` names each
model's time and compiled SQL): for the city's phases,
`<XINYONG_HOME>/bench/city-work/home/dbt/<run label>`. Each of the `--top` slowest models'
SELECT runs again under EXPLAIN (ANALYZE, BUFFERS) in a read-only transaction that is rolled
back, against the warehouse as it is now: run it right after the build, before another one
changes what the incremental models read. The report gives, per model, the build's time, the
query's time now, and the plan nodes that took the most time of their own, with what spilled
to disk.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

NODES_PER_MODEL = 6  # plan nodes listed per model, the most of their own time first


@dataclass(frozen=True)
class PlanNode:
    """One node of a plan with the time it took itself (its children's taken off), in ms."""

    label: str  # node type and what it reads, e.g. "Seq Scan on raw.parking"
    own_ms: float
    rows: int  # rows it produced in all (per-loop rows × loops)
    spilled: str  # "" or what went to disk (a sort's or a hash's temporary files)


def _label(node: dict) -> str:
    label = node["Node Type"]
    if node.get("Strategy") and node["Node Type"] == "Aggregate":
        label = f"{node['Strategy']} {label}"
    if node.get("Relation Name"):
        label += f" on {node.get('Schema', '')}.{node['Relation Name']}".replace(" on .", " on ")
    elif node.get("CTE Name"):
        label += f" on CTE {node['CTE Name']}"
    if node.get("Workers Launched"):
        label += f" ({node['Workers Launched']} workers)"
    return label


def _spilled(node: dict) -> str:
    if node.get("Sort Space Type") == "Disk":
        return f"sort {node.get('Sort Method', '')}: {node.get('Sort Space Used', 0):,} kB on disk"
    if (node.get("Hash Batches") or 1) > 1:
        return f"hash in {node['Hash Batches']} batches, {node.get('Peak Memory Usage', 0):,} kB peak"
    if node.get("Temp Written Blocks"):
        return f"{node['Temp Written Blocks'] * 8:,} kB of temporary files written"
    return ""


def plan_nodes(plan: dict) -> list[PlanNode]:
    """Every node of an EXPLAIN (ANALYZE, FORMAT JSON) plan, the most of its own time first.
    A node's time is its per-loop total × loops, less its children's: time inside it alone."""
    found: list[PlanNode] = []

    def total(node: dict) -> float:
        return node.get("Actual Total Time", 0.0) * node.get("Actual Loops", 1)

    def walk(node: dict) -> None:
        children = node.get("Plans", [])
        own = total(node) - sum(total(child) for child in children)
        found.append(
            PlanNode(
                _label(node),
                max(own, 0.0),
                int(node.get("Actual Rows", 0) * node.get("Actual Loops", 1)),
                _spilled(node),
            )
        )
        for child in children:
            walk(child)

    walk(plan)
    return sorted(found, key=lambda n: -n.own_ms)


def slowest_models(run_results: dict, top: int) -> list[dict]:
    """The `top` models that took longest in the run, with SQL dbt compiled for them."""
    models = [
        r
        for r in run_results["results"]
        if r["unique_id"].startswith("model.") and r.get("compiled_code") and r["status"] == "success"
    ]
    return sorted(models, key=lambda r: -r["execution_time"])[:top]


def explain(cur, sql: str) -> dict:
    """EXPLAIN ANALYZE of one SELECT (verbose: relations with their schemas), run in a read-only
    transaction and rolled back."""
    cur.execute("begin transaction read only")
    try:
        cur.execute(f"explain (analyze, buffers, verbose, format json) {sql}")
        return cur.fetchone()[0][0]
    finally:
        cur.execute("rollback")


def report(run_dir: Path, warehouse_url: str, top: int) -> str:
    from xinyong.runtime import warehouse

    run_results = json.loads((run_dir / "run_results.json").read_text(encoding="utf-8"))
    lines = [
        f"# The {top} slowest models of the dbt run in `{run_dir}`",
        "",
        "Their SQL as dbt compiled it for that run, again under EXPLAIN ANALYZE against the warehouse "
        "as it is now. Own time: a plan node's time less its children's.",
    ]
    conn = warehouse.connect(warehouse_url)
    conn.autocommit = True  # explain() opens and rolls back its own transaction
    try:
        with conn.cursor() as cur:
            for result in slowest_models(run_results, top):
                name = result["unique_id"].rsplit(".", 1)[-1]
                analysed = explain(cur, result["compiled_code"])
                lines += [
                    "",
                    f"## {name}: {result['execution_time']:.1f} s in the run, "
                    f"{analysed['Execution Time'] / 1000:.1f} s now (planning {analysed['Planning Time']:.0f} ms)",
                    "",
                    "| plan node | own time (s) | rows | spilled |",
                    "|---|---:|---:|---|",
                ]
                for node in plan_nodes(analysed["Plan"])[:NODES_PER_MODEL]:
                    lines.append(
                        f"| {node.label} | {node.own_ms / 1000:.2f} | {node.rows:,} | {node.spilled} |"
                    )
    finally:
        conn.close()
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.explain", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="target path of a finished dbt run (has run_results.json)")
    parser.add_argument("--url", help="the warehouse (default: the configured one)")
    parser.add_argument("--top", type=int, default=6, help="how many of the slowest models (default 6)")
    parser.add_argument("--out", type=Path, help="write the markdown here (default: print it)")
    args = parser.parse_args(argv)
    if not (args.run_dir / "run_results.json").exists():
        parser.error(f"{args.run_dir} holds no run_results.json: give the target path of a finished dbt run")
    from xinyong.runtime import warehouse

    text = report(args.run_dir, args.url or warehouse.url(), args.top)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
