"""An outbox extract on a real PostgreSQL: the CSV as COPY writes it, the Parquet read back from
that CSV a block at a time, against the table's own values."""

import csv
import datetime as dt
from decimal import Decimal

import psycopg2
import pyarrow.parquet as pq
import pytest

from xinyong.publication import consumers, outbox
from xinyong.publication.schemas import LIVE

pytestmark = pytest.mark.integration

ROWS = [
    # key, a text with a line break, quotes and a comma; an empty text; a NULL; typed columns
    (i, f'第{i}行\n"引号", 逗号', "", None, i % 2 == 0, dt.date(2026, 11, 21), Decimal(f"{i}.25"))
    for i in range(1, 400)
]


def test_an_extract_keeps_every_value_across_blocks(warehouse_url, tmp_path, monkeypatch):
    # blocks far smaller than the file: a quoted line break falls across a block's end
    monkeypatch.setattr(outbox, "CSV_BLOCK_BYTES", 512)
    conn = psycopg2.connect(warehouse_url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"create schema if not exists {LIVE}")
            cur.execute(
                f"""create table {LIVE}.outbox_probe (key integer, note text, empty text, missing text,
                        flag boolean, day date, amount numeric(8, 2), stamped timestamptz)"""
            )
            cur.executemany(
                f"insert into {LIVE}.outbox_probe values (%s, %s, %s, %s, %s, %s, %s, '2026-11-21 10:00:00+08')",
                ROWS,
            )
            names = ["key", "note", "empty", "missing", "flag", "day", "amount", "stamped"]
            types = outbox._copy_csv(
                cur, "outbox_probe", consumers.TableAccess(rows="key > 1"), names, tmp_path
            )
        rows, schema, files = outbox._write_parquet("outbox_probe", types, tmp_path)
    finally:
        conn.rollback()
        conn.close()
    expected = [r for r in ROWS if r[0] > 1]
    assert rows == len(expected) and schema.names == names
    assert [(f["file"], f["rows"], f["bytes"]) for f in files] == [
        (name, rows, (tmp_path / name).stat().st_size)
        for name in ("outbox_probe.parquet", "outbox_probe.csv")
    ]
    stamp = dt.datetime(2026, 11, 21, 2, tzinfo=dt.UTC)
    extract = pq.read_table(tmp_path / "outbox_probe.parquet").to_pylist()
    assert [tuple(r.values()) for r in extract] == [(*r, stamp) for r in expected]
    with (tmp_path / "outbox_probe.csv").open(encoding="utf-8", newline="") as fh:
        header, *lines = list(csv.reader(fh))
    assert header == names
    assert lines[0] == [
        "2",
        '第2行\n"引号", 逗号',
        "",
        "",
        "true",
        "2026-11-21",
        "2.25",
        "2026-11-21 02:00:00+00",
    ]
