"""Write distribute_raw.sql from the feed contracts: `python deploy/citus/distribute_raw.py`.

Each feed's raw table is distributed on the first column of its contract's key; feeds on
the same column are co-located with one of them (the one keyed on that column alone, else
the widest: entity_register for `uscc`, penalty for `decision_no`). A feed keyed on a
personal ID number is co-located with raw.personal_id_digests on the number, so staging's
digest join stays on one shard (the numbers are in raw anyway; nothing downstream is
distributed on one). A unit test keeps the committed SQL equal to this output.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SQL_FILE = HERE / "distribute_raw.sql"
DIGESTS = "raw.personal_id_digests"

HEADER = """\
-- Generated from connectors/*.yml by deploy/citus/distribute_raw.py; do not edit.
-- Citus: distribute the raw feed tables once, after `xinyong setup` created them and
-- before the first ingest (psql -f deploy/citus/distribute_raw.sql on the coordinator).
-- Keys and reasons: deploy/README.md, "What is distributed, on what key".
create extension if not exists citus;
set citus.enable_repartition_joins = on;
"""

FOOTER = """
-- audit rows commit in the same transaction as the raw rows of their file
select citus_add_local_table_to_metadata('audit.feed_files', cascade_via_foreign_keys => true);
select citus_add_local_table_to_metadata('audit.rejected_rows', cascade_via_foreign_keys => true);
select citus_add_local_table_to_metadata('audit.publications', cascade_via_foreign_keys => true);

alter role current_user set citus.enable_repartition_joins = on;
"""


def distribute(table: str, column: str, colocate_with: str | None = None) -> str:
    colocation = f", colocate_with => '{colocate_with}'" if colocate_with else ""
    return f"select create_distributed_table('{table}', '{column}'{colocation});"


def render(contracts: dict) -> str:
    """The SQL for the given contracts (feed -> xinyong.ingest.contracts.Contract)."""
    personal = sorted((c for c in contracts.values() if c.key[0] in c.personal_ids), key=lambda c: c.feed)
    groups: dict[str, list] = {}
    for contract in contracts.values():
        if contract not in personal:
            groups.setdefault(contract.key[0], []).append(contract)
    lines = []
    for column, members in sorted(groups.items()):
        anchor, *others = sorted(members, key=lambda c: (len(c.key), -len(c.columns), c.feed))
        lines.append(distribute(anchor.raw_table, column))
        lines += [
            distribute(c.raw_table, column, anchor.raw_table) for c in sorted(others, key=lambda c: c.feed)
        ]
    if personal:
        lines.append("-- keyed on a personal ID number: co-located with its digests on the number")
        lines.append(distribute(DIGESTS, "id_value"))
        lines += [distribute(c.raw_table, c.key[0], DIGESTS) for c in personal]
    return HEADER + "\n" + "\n".join(lines) + "\n" + FOOTER


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[1]))
    from xinyong.ingest import contracts as feed_contracts

    SQL_FILE.write_text(render(feed_contracts.load_all()), encoding="utf-8")
    print(f"{SQL_FILE}: written")
