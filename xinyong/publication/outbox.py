"""The outbox: for each consumer that receives `outbox` (see `consumers`), one folder per
publication with Parquet and CSV extracts.

`<outbox>/<consumer>/publication_<id>/` holds, for each table the consumer is declared to
read (and the warehouse builds), exactly the rows and columns its declaration grants (its
row filter; every column but the hidden ones) as `<table>.parquet` and `<table>.csv`
(UTF-8), plus `manifest.json` (publication id, consumer, schema version, row counts,
SHA-256 and size of every file). The folder is written under a hidden temporary name and
renamed when complete, so a reader listing the outbox never sees a partial folder. The
outbox is XINYONG_OUTBOX, else XINYONG_HOME/outbox; each consumer's folder is its own, so
a deployment can give each one access to its folder only. A folder holding `loan_candidates`
is a delivery of 信易贷 candidates: it is logged once in `audit.candidate_deliveries`
(`deliveries`), from the delivered file itself.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from psycopg2 import sql

from xinyong.publication import consumers, deliveries, publish
from xinyong.publication.schemas import LIVE
from xinyong.runtime import config, faults, warehouse
from xinyong.runtime.config import PROJECT_ROOT

MANIFEST = "manifest.json"
# The published table of 信易贷 candidates: its deliveries are logged (`deliveries`).
CANDIDATES = "loan_candidates"


def root(settings: config.Settings) -> Path:
    return Path(os.environ.get("XINYONG_OUTBOX") or settings.home / "outbox").resolve()


def folder(settings: config.Settings, consumer: str, publication_id: int) -> Path:
    return root(settings) / consumers.OUTBOX_FOLDER.format(consumer=consumer, publication_id=publication_id)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _project_version() -> str:
    for line in (PROJECT_ROOT / "dbt_project" / "dbt_project.yml").read_text(encoding="utf-8").splitlines():
        if line.startswith("version:"):
            return line.split(":", 1)[1].strip().strip("\"'")
    return "0"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write(
    warehouse_url: str, settings: config.Settings, publication_id: int, evaluation_date
) -> dict[str, Path]:
    """Write the publication's folder for every outbox consumer once; returns {consumer: folder}."""
    return {
        consumer.name: _write_one(warehouse_url, settings, publication_id, evaluation_date, consumer)
        for consumer in consumers.load()
        if consumer.outbox
    }


def _extract(cur, table: str, access: consumers.TableAccess) -> tuple[list[str], list[tuple]] | None:
    """The rows and columns of a live table the declaration grants; None when the table is not built."""
    cur.execute(
        """select column_name from information_schema.columns
                   where table_schema = %s and table_name = %s order by ordinal_position""",
        (LIVE, table),
    )
    names = [c for (c,) in cur.fetchall() if c not in access.hidden_columns]
    if not names:
        return None
    cur.execute(
        sql.SQL("select {} from {} where ({}) order by 1").format(
            sql.SQL(", ").join(map(sql.Identifier, names)), sql.Identifier(LIVE, table), sql.SQL(access.rows)
        )
    )
    return names, cur.fetchall()


def _write_one(
    warehouse_url: str,
    settings: config.Settings,
    publication_id: int,
    evaluation_date,
    consumer: consumers.Consumer,
) -> Path:
    final = folder(settings, consumer.name, publication_id)
    if final.is_dir():
        _log_candidates(warehouse_url, publication_id, evaluation_date, consumer, final)
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".{final.name}.tmp-*"):  # left by a killed writer
        shutil.rmtree(stale, ignore_errors=True)
    staging = final.parent / f".{final.name}.tmp-{os.getpid()}"
    staging.mkdir()
    files, counts, columns = [], {}, {}
    # One snapshot for every extract, and it must be the publication asked for.
    with publish.live_snapshot(warehouse_url, publication_id) as cur:
        for table, access in consumer.tables.items():
            extract = _extract(cur, table, access)
            if extract is None:
                continue
            names, data = extract
            arrow = (
                pa.table({n: pa.array([r[i] for r in data]) for i, n in enumerate(names)})
                if data
                else pa.table({n: pa.array([], pa.string()) for n in names})
            )
            pq.write_table(arrow, staging / f"{table}.parquet")
            with (staging / f"{table}.csv").open("w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(names)
                writer.writerows(data)
            counts[table] = len(data)
            columns[table] = [
                f"{n}:{t}" for n, t in zip(arrow.schema.names, arrow.schema.types, strict=False)
            ]
            for suffix in ("parquet", "csv"):
                path = staging / f"{table}.{suffix}"
                files.append(
                    {
                        "table": table,
                        "file": path.name,
                        "format": suffix,
                        "rows": len(data),
                        "bytes": path.stat().st_size,
                        "sha256": _sha256(path),
                    }
                )
    fingerprint = hashlib.sha256(json.dumps(columns, sort_keys=True).encode()).hexdigest()[:12]
    manifest = {
        "publication_id": publication_id,
        "consumer": consumer.name,
        "schema_version": f"{_project_version()}+{fingerprint}",
        "evaluation_date": str(evaluation_date),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "row_counts": counts,
        "columns": columns,
        "files": files,
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    for path in staging.iterdir():
        with path.open("rb") as fh:
            os.fsync(fh.fileno())
    _fsync_dir(staging)
    faults.inject("outbox:writing")
    os.rename(staging, final)  # atomic on one file system: readers see no folder or a whole one
    _fsync_dir(final.parent)
    _log_candidates(warehouse_url, publication_id, evaluation_date, consumer, final)
    return final


def _log_candidates(
    warehouse_url: str, publication_id: int, evaluation_date, consumer: consumers.Consumer, final: Path
) -> None:
    """Log the candidates the folder delivers, read back from the delivered file itself; once
    per folder (a run killed between the rename and the log is completed by the next)."""
    extract = final / f"{CANDIDATES}.parquet"
    if not extract.is_file():
        return
    keys = pq.read_table(extract, columns=["entity_key"]).column("entity_key").to_pylist()
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        deliveries.log_candidate_delivery(
            cur,
            publication_id=publication_id,
            evaluation_date=evaluation_date,
            channel=deliveries.OUTBOX,
            recipient=consumer.name,
            entity_keys=keys,
        )
