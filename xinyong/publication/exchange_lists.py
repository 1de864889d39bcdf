"""The district's own red and black lists, written after every publication for the partners
of its mutual-recognition agreements (红黑名单互认), in the format they send theirs in: the
`list_exchange` contract's headers, one row per subject and list.

For each agreement of the seed `dbt_project/seeds/list_exchange_agreements.csv`:

    <outbox>/list_exchange/<outbox_folder>/list_exchange_<YYYYMMDD>_<publication id>.csv

(UTF-8 with BOM; the name follows the departments' naming, so a partner can drop it into its
landing as is). Only the district's own decisions go out: other regions' entries applied here
(source_region set) are theirs to send. A subject on one list for several reasons is one row
(earliest 列入日期, latest 有效期至, empty when open-ended, the reasons joined); 认定单位 is the
credit office that receives the partners' lists (the list_exchange feed's sender). The file is
a full snapshot of the lists on the evaluation date: a subject no longer on it has left.
Read from the live publication in one snapshot that must be the publication asked for;
each file is written under a hidden name and renamed.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import cache
from pathlib import Path
from typing import TextIO

from xinyong.ingest import contracts, departments
from xinyong.publication import outbox, publish
from xinyong.publication.schemas import LIVE
from xinyong.runtime import config
from xinyong.runtime.config import PROJECT_ROOT

FEED = "list_exchange"
# Rows held in Python at a time while the own lists stream from a server-side cursor.
BATCH_ROWS = 50_000
AGREEMENTS = PROJECT_ROOT / "dbt_project" / "seeds" / "list_exchange_agreements.csv"
# (名单类型, 名单名称) of each own reason code of publish.red_list / publish.black_list
LIST_NAMES = {
    "TIER_A_TAX_A": ("红名单", "守信激励名单"),
    "PEN_SERIOUS": ("黑名单", "严重失信主体名单"),
    "TAX_MAJOR_VIOLATOR": ("黑名单", "重大税收违法失信主体名单"),
    "COURT_DISHONEST": ("黑名单", "失信被执行人名单"),
}


@cache
def agreements() -> tuple[dict[str, str], ...]:
    with AGREEMENTS.open(encoding="utf-8", newline="") as fh:
        return tuple(csv.DictReader(fh))


def own_region() -> str:
    (region,) = {a["own_region"] for a in agreements()}  # one district: one name
    return region


def path(settings: config.Settings, agreement: dict[str, str], publication_id: int, evaluation_date) -> Path:
    day = str(evaluation_date).replace("-", "")
    return outbox.root(settings) / FEED / agreement["outbox_folder"] / f"{FEED}_{day}_{publication_id}.csv"


def own_entries(cur, schema: str = LIVE) -> Iterator[dict]:
    """One record per subject and list of the district's own red and black lists in `schema`,
    read a batch at a time from a server-side cursor in `cur`'s transaction (the lists grow
    with the warehouse); a subject's records come once all its rows are read."""
    with cur.connection.cursor(name="exchange_lists_own_entries") as source:
        source.itersize = BATCH_ROWS
        source.execute(
            f"""select 'red' as side, uscc, entity_name, reason_code, reason, start_date, end_date
                from "{schema}".red_list where source_region is null
                union all
                select 'black', uscc, entity_name, reason_code, reason, start_date, end_date
                from "{schema}".black_list where source_region is null
                order by 2, 4, 6"""
        )
        merged: dict[str, dict] = {}  # list name -> record, of one subject (rows come by uscc)
        subject = None
        for _, uscc, name, code, reason, start, end in source:
            if uscc != subject:
                yield from merged.values()
                merged, subject = {}, uscc
            list_type, list_name = LIST_NAMES[code]
            entry = merged.setdefault(
                list_name,
                {
                    "list_type": list_type,
                    "list_name": list_name,
                    "uscc": uscc,
                    "subject_name": name,
                    "reasons": [],
                    "listed_on": start,
                    "ends": [],
                },
            )
            entry["reasons"].append(reason)
            entry["listed_on"] = min(entry["listed_on"], start)
            entry["ends"].append(end)
        yield from merged.values()


def _has_sources(cur, schema: str = LIVE) -> bool:
    cur.execute(
        """select count(*) from information_schema.columns
           where table_schema = %s and table_name in ('red_list', 'black_list') and column_name = 'source_region'""",
        (schema,),
    )
    return cur.fetchone()[0] == 2


def write(
    warehouse_url: str, settings: config.Settings, publication_id: int, evaluation_date
) -> dict[str, Path]:
    """Write the district's lists for every agreement, all files in one pass over the lists;
    returns {agreement_no: file}."""
    columns = {c.name: c.header for c in contracts.load(FEED).columns}
    decider = departments.sender(FEED)
    targets = {a["agreement_no"]: path(settings, a, publication_id, evaluation_date) for a in agreements()}
    with publish.live_snapshot(warehouse_url, publication_id) as cur:
        if not _has_sources(cur):  # a publication built before the lists carried their region
            return {}
        with ExitStack() as files:
            writers = []
            for agreement in agreements():
                handle = files.enter_context(_partial(targets[agreement["agreement_no"]]))
                writer = csv.writer(handle)
                writer.writerow(columns.values())
                writers.append((agreement, writer))
            for e in own_entries(cur):
                row = {
                    "list_type": e["list_type"],
                    "list_name": e["list_name"],
                    "uscc": e["uscc"],
                    "subject_name": e["subject_name"],
                    "reason": "；".join(dict.fromkeys(e["reasons"])),
                    "listed_on": e["listed_on"],
                    "valid_until": "" if None in e["ends"] else max(e["ends"]),
                    "removed_on": "",
                    "decider": decider.name,
                    "decider_uscc": decider.uscc,
                }
                for agreement, writer in writers:
                    row.update(source_region=agreement["own_region"], agreement_no=agreement["agreement_no"])
                    writer.writerow([row[name] for name in columns])
    for target in targets.values():
        os.replace(_partial_path(target), target)
    return targets


def _partial_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.tmp-{os.getpid()}")


@contextmanager
def _partial(target: Path) -> Iterator[TextIO]:
    """The file written under a hidden name beside `target`, synced when done; renamed by the caller."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.tmp-*"):  # left by a killed writer
        stale.unlink(missing_ok=True)
    with _partial_path(target).open("w", encoding="utf-8-sig", newline="") as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
