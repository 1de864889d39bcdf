"""Bad inputs (issue 11): each gets a one-sentence reason in audit.feed_files and the
department's report, and nothing else is affected: the other files of the folder load.
Limits are the feed's (`limits:` in connectors/<feed>.yml); memory stays bounded (a child
under RLIMIT_AS); a warehouse that goes away or fills up mid-file loses nothing."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import openpyxl
import psycopg2
import pytest

from tests.conftest import SAMPLES, free_port, query
from xinyong import ingest
from xinyong.app import cli, pipeline
from xinyong.ingest import contracts, loader, reports, schema
from xinyong.ingest.contracts import Limits
from xinyong.ingest.readers import copy_safe
from xinyong.runtime import embedded, warehouse
from xinyong.runtime.config import PROJECT_ROOT

pytestmark = pytest.mark.integration
PARKING = SAMPLES / "parking_20261120.csv"


def _parking_lines() -> tuple[str, list[str]]:
    header, *rows = PARKING.read_text(encoding="utf-8").splitlines()
    return header, [r for r in rows if r.strip()]


def _write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _numbered(rows: list[str], n: int) -> list[str]:
    """n parking rows, each with a record number of its own (the key)."""
    return [f"BSP{i:013d},{rows[i % len(rows)].split(',', 1)[1]}" for i in range(n)]


def _long_cell(row: str, chars: int) -> str:
    cells = row.split(",")
    cells[4] = "CS-" + "9" * chars  # 泊位编号, a code column: still a plain value
    return ",".join(cells)


def _xlsx(path: Path, header: str, rows: list[str]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    for line in [header, *rows]:
        sheet.append(next(csv.reader([line])))
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def _said_about(url: str, settings, name: str) -> tuple[str, str, str]:
    """(status, message, department report text) of the file."""
    ((feed, status, message),) = query(
        url, "select feed, status, message from audit.feed_files where file_name = %s", (name,)
    )
    return status, message, reports.department_report_path(settings, feed, name).read_text(encoding="utf-8")


def test_a_feed_s_limits_refuse_a_file_with_a_reason_and_the_next_file_loads(settings, warehouse_url):
    """Past each of the contract's limits, on every reading path: bulk (Arrow), COPY of the
    file's bytes, Python's csv module, XLSX; the sample, within them, loads."""
    limits = Limits(max_file_mb=0.05, max_rows=40, max_cell_chars=100)
    contract = contracts.load("parking").model_copy(update={"limits": limits})
    header, rows = _parking_lines()
    folder = settings.landing / "parking"
    assert copy_safe(PARKING, "utf-8")  # the long-cell copies below take the bulk path
    _write(folder / "parking_20261101.csv", [header, *_numbered(rows, 500)])  # ~65 KB
    _write(folder / "parking_20261102.csv", [header, *_numbered(rows, 45)])  # 45 rows
    long_row = [header, *_numbered(rows, 10)]
    long_row[4] = _long_cell(long_row[4], 150)  # row 5
    _write(folder / "parking_20261103.csv", long_row)  # bulk path
    extra = [long_row[0] + ",备注"] + [r + "," for r in long_row[1:]]
    _write(folder / "parking_20261104.csv", extra)  # COPY, then SQL
    _write(folder / "parking_20261105.csv", long_row[:8] + [""] + long_row[8:])  # Python csv
    _xlsx(folder / "parking_20261106.xlsx", header, long_row[1:])  # XLSX cell
    _xlsx(folder / "parking_20261107.xlsx", header, _numbered(rows, 45))  # XLSX rows
    shutil.copy(PARKING, folder)

    outcomes = {o.file_name: o for o in ingest.ingest_feed(contract, settings, warehouse_url)}

    expected = {
        "parking_20261101.csv": "0.05 MB 的上限",
        "parking_20261102.csv": "超过 40 行的上限",
        "parking_20261103.csv": "第 5 行有单元格超过 100 字",
        "parking_20261104.csv": "第 5 行有单元格超过 100 字",
        "parking_20261105.csv": "第 5 行有单元格超过 100 字",
        "parking_20261106.xlsx": "第 5 行有单元格超过 100 字",
        "parking_20261107.xlsx": "超过 40 行的上限",
    }
    for name, reason in expected.items():
        status, message, report = _said_about(warehouse_url, settings, name)
        assert status == "unreadable" and reason in message, (name, message)
        assert message in report and len(message) < 200
        assert not (folder / name).exists() and (settings.quarantine / "parking" / name).exists()
    assert outcomes["parking_20261120.csv"].status in ("loaded", "loaded_with_rejects")
    assert query(warehouse_url, "select distinct _source_file from raw.parking") == [
        ("parking_20261120.csv",)
    ]


def test_the_contract_s_limits_are_strict_and_parking_allows_a_district_s_file():
    with pytest.raises(contracts.ContractError, match=r"limits: unknown key 'max_file_gb'.*max_file_mb"):
        contracts.parse({**contracts.load("tax_credit").model_dump(), "limits": {"max_file_gb": 1}})
    assert contracts.load("tax_credit").limits == Limits()
    parking = contracts.load("parking").limits
    assert (
        parking.max_rows >= 1_000_000 and parking.max_file_mb >= 200
    )  # a normal day: 1,000,000 rows, ~140 MB


def test_a_single_100_mb_line_is_refused_after_reading_a_few_mb(settings, warehouse_url):
    folder = settings.landing / "tax_credit"
    folder.mkdir(parents=True)
    with (folder / "tax_credit_20261101.csv").open("wb") as fh:
        for _ in range(100):
            fh.write(b"x" * (1 << 20))
    shutil.copy(SAMPLES / "tax_credit_20261120.csv", folder)

    outcomes = {
        o.file_name: o for o in ingest.ingest_feed(contracts.load("tax_credit"), settings, warehouse_url)
    }

    status, message, report = _said_about(warehouse_url, settings, "tax_credit_20261101.csv")
    assert status == "unreadable" and "第 1 行超过" in message and "仍未换行" in message and message in report
    assert outcomes["tax_credit_20261120.csv"].status == "loaded_with_rejects"


def test_a_file_still_being_written_waits_and_loads_once_it_is_still(settings, warehouse_url):
    settings = dataclasses.replace(settings, landing_settle_seconds=1.0)
    header, rows = _parking_lines()
    folder = settings.landing / "parking"
    growing = _write(folder / "parking_20261101.csv", [header, *_numbered(rows, 5)])
    shutil.copy(PARKING, folder)
    os.utime(folder / PARKING.name, (time.time() - 60, time.time() - 60))  # written a minute ago
    stop = threading.Event()

    def keep_writing():
        n = 5
        while not stop.is_set():
            with growing.open("a", encoding="utf-8") as fh:
                fh.write(_numbered(rows, n + 1)[-1] + "\n")
            n += 1
            time.sleep(0.05)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    said = []
    try:
        outcomes = ingest.ingest_feed(
            contracts.load("parking"), settings, warehouse_url, progress=said.append
        )
    finally:
        stop.set()
        writer.join()

    assert [o.file_name for o in outcomes] == [PARKING.name]  # the still file loads
    assert growing.exists() and any("still being written" in line for line in said)
    assert query(
        warehouse_url, "select count(*) from audit.feed_files where file_name = %s", (growing.name,)
    ) == [(0,)]
    assert ingest.ready_files("parking", settings) == []  # the sensor does not fire on it yet

    (later,) = ingest.ingest_feed(
        contracts.load("parking"), settings, warehouse_url
    )  # still now: one look after 1 s
    written = (settings.archive / "parking" / growing.name).read_text(encoding="utf-8").count("\n") - 1
    assert later.file_name == growing.name and later.status == "loaded" and later.rows_loaded == written > 5


def test_a_file_that_vanishes_between_listing_and_reading_gets_a_reason(settings, warehouse_url, monkeypatch):
    folder = settings.landing / "tax_credit"
    folder.mkdir(parents=True)
    for day in ("20261101", "20261102"):
        shutil.copy(SAMPLES / "tax_credit_20261120.csv", folder / f"tax_credit_{day}.csv")
    shutil.copy(SAMPLES / "tax_credit_20261120.csv", folder)
    listed = ingest.pending_files(settings.landing, "tax_credit")
    contract = contracts.load("tax_credit")

    (folder / "tax_credit_20261101.csv").unlink()  # gone before the check
    gone_before = ingest.ingest_file(listed[0], contract, settings, warehouse_url)
    hashing = loader.sha256_of

    def taken_while_read(path):  # gone after the check
        path.unlink()
        return hashing(path)

    monkeypatch.setattr(loader, "sha256_of", taken_while_read)
    gone_during = ingest.ingest_file(listed[1], contract, settings, warehouse_url)
    monkeypatch.setattr(loader, "sha256_of", hashing)
    loaded = ingest.ingest_file(listed[2], contract, settings, warehouse_url)

    assert gone_before.status == "unreadable" and "读取前已被移走" in gone_before.message
    assert gone_during.status == "unreadable" and "读取时已被移走" in gone_during.message
    for outcome in (gone_before, gone_during):
        assert outcome.message in _said_about(warehouse_url, settings, outcome.file_name)[2]
    assert loaded.status == "loaded_with_rejects"


def test_names_not_the_contract_s_pattern_and_dot_dot_paths(settings, warehouse_url, tmp_path):
    folder = settings.landing / "tax_credit"
    folder.mkdir(parents=True)
    sample = SAMPLES / "tax_credit_20261120.csv"
    for name in (
        "taxcredit_20261101.csv",
        "tax_credit_20261101..csv",
        "tax_credit_2026110.csv",
        "tax_credit_20261301.csv",
        "tax_credit_20261101.csv.txt",
    ):
        shutil.copy(sample, folder / name)
    outside = tmp_path / "outside.csv"
    shutil.copy(sample, outside)
    contract = contracts.load("tax_credit")

    outcomes = {o.file_name: o for o in ingest.ingest_feed(contract, settings, warehouse_url)}
    # A path that climbs out of the landing root with `..` is not read, and not moved either.
    climbing = ingest.ingest_file(
        settings.landing / "tax_credit" / ".." / ".." / outside.name, contract, settings, warehouse_url
    )

    assert {n: o.status for n, o in outcomes.items()} == dict.fromkeys(
        [
            "taxcredit_20261101.csv",
            "tax_credit_20261101..csv",
            "tax_credit_2026110.csv",
            "tax_credit_20261301.csv",
            "tax_credit_20261101.csv.txt",
        ],
        "unreadable",
    )
    assert "文件名不符合约定" in outcomes["tax_credit_20261101..csv"].message
    assert "日期 20261301 不存在" in outcomes["tax_credit_20261301.csv"].message
    assert "文件名不符合约定" in outcomes["tax_credit_20261101.csv.txt"].message
    assert climbing.status == "unreadable" and "接收目录之内" in climbing.message
    assert outside.exists() and not any(settings.quarantine.rglob(outside.name))
    assert query(warehouse_url, "select count(*) from raw.tax_credit") == [(0,)]


def test_entries_no_feed_takes_up_are_reported_recorded_and_shown(
    settings, warehouse_url, monkeypatch, capsys
):
    monkeypatch.setenv("XINYONG_WAREHOUSE_URL", warehouse_url)
    landing = settings.landing
    (landing / "tax_credits").mkdir()  # a misspelt feed
    shutil.copy(SAMPLES / "tax_credit_20261120.csv", landing / "tax_credits")
    shutil.copy(SAMPLES / "tax_credit_20261120.csv", landing)  # directly in the root
    (landing / "tax_credit").mkdir()
    (landing / "tax_credit" / "2026-11").mkdir()  # a subfolder of a feed
    shutil.copy(SAMPLES / "tax_credit_20261120.csv", landing / "tax_credit")
    (landing / ".snapshot").mkdir()  # hidden: left alone

    first = pipeline.check_landing()
    summary = pipeline.ingest_feed("tax_credit")  # the feed's own file still loads

    assert [f["entry"] for f in first] == ["tax_credit/2026-11", "tax_credit_20261120.csv", "tax_credits"]
    assert "不是任何数据类别" in first[2]["reason"] and "直接放在接收根目录" in first[1]["reason"]
    assert [f["status"] for f in summary["files"]] == ["loaded_with_rejects"]
    assert (landing / "tax_credits" / "tax_credit_20261120.csv").exists()  # not read, not moved
    open_rows = "select entry from audit.landing_findings where resolved_at is null order by entry"
    assert query(warehouse_url, open_rows) == [(f["entry"],) for f in first]  # checked twice, one row each

    assert cli.main(["status"]) == 0
    shown = capsys.readouterr().out
    assert "taken up by no feed" in shown and "tax_credits" in shown

    shutil.rmtree(landing / "tax_credits")
    pipeline.check_landing()
    assert query(warehouse_url, open_rows) == [("tax_credit/2026-11",), ("tax_credit_20261120.csv",)]
    assert query(
        warehouse_url,
        "select count(*) from audit.landing_findings where entry = 'tax_credits' and resolved_at is not null",
    ) == [(1,)]


# ---------------------------------------------------------------- memory stays bounded

CHILD = """
import json, resource, sys
from pathlib import Path
limit = int(sys.argv[4])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from xinyong import ingest
from xinyong.ingest import contracts
from xinyong.runtime import config
path, url, home = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
settings = config.Settings(home=home, landing=path.parent.parent, warehouse_url=url, embedded_port=0,
                           evaluation_date=None)
outcome = ingest.ingest_file(path, contracts.load(path.parent.name), settings, url)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux: the peak resident set
print(json.dumps({"status": outcome.status, "rows_read": outcome.rows_read, "rows_loaded": outcome.rows_loaded,
                  "message": outcome.message, "peak_rss_kib": int(peak)}))
"""


def _ingest_in_a_child(path: Path, url: str, home: Path, limit_bytes: int) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), url, str(home), str(limit_bytes)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_district_s_parking_file_loads_within_2_gib_of_address_space(settings, warehouse_url):
    """1,000,000 rows (~140 MB), as the district sends each day: the ingest streams it (its
    resident peak is ~450 MiB, its address space ~1.8 GiB, mostly reserved by Arrow's
    allocator and thread arenas), so it completes under RLIMIT_AS = 2 GiB."""
    header, rows = _parking_lines()
    path = settings.landing / "parking" / "parking_20261120.csv"
    path.parent.mkdir(parents=True)
    with path.open("w", encoding="utf-8") as fh:
        fh.write(header + "\n")
        for start in range(0, 1_000_000, 10_000):
            fh.write(
                "".join(
                    f"BSP{i:013d},{rows[i % len(rows)].split(',', 1)[1]}\n"
                    for i in range(start, start + 10_000)
                )
            )

    done = _ingest_in_a_child(path, warehouse_url, settings.home, 2 << 30)

    assert done["status"] == "loaded" and done["rows_read"] == 1_000_000, done
    assert done["peak_rss_kib"] < 1 << 20  # under 1 GiB resident (the bench's target)
    assert query(warehouse_url, "select count(*) from raw.parking") == [(1_000_000,)]


def test_a_200_mb_line_is_refused_within_512_mib_of_address_space(settings, warehouse_url):
    """Holding the line would take more than the limit (200 MB of bytes, as much again decoded).
    Parking's file-size limit (1 GB) lets the file be opened: the line bound refuses it."""
    path = settings.landing / "parking" / "parking_20261101.csv"
    path.parent.mkdir(parents=True)
    with path.open("wb") as fh:
        fh.write("停车记录编号,".encode())
        for _ in range(200):
            fh.write(b"9" * (1 << 20))

    done = _ingest_in_a_child(path, warehouse_url, settings.home, 512 << 20)

    assert done["status"] == "unreadable" and "仍未换行" in done["message"], done


# ---------------------------------------------------------------- the warehouse goes away


@pytest.fixture
def own_server(tmp_path):
    """A server of the test's own, to stop mid-file (the session's server serves other tests)."""
    home, port = tmp_path / "own", free_port()
    server = embedded.ensure_running(home, port)
    with warehouse.transaction(server.url("xinyong")) as conn:
        schema.ensure(conn)
    yield home, port, server.url("xinyong")
    embedded.stop(home)


def test_the_warehouse_stopping_mid_file_loses_nothing_and_the_next_run_loads(
    settings, own_server, monkeypatch
):
    home, port, url = own_server
    folder = settings.landing / "tax_credit"
    folder.mkdir(parents=True)
    sample = (SAMPLES / "tax_credit_20261120.csv").read_bytes()
    (folder / "tax_credit_20261101.csv").write_bytes(
        sample[: sample.rstrip().rfind(b"\n") + 1]
    )  # not the same bytes
    shutil.copy(SAMPLES / "tax_credit_20261120.csv", folder)
    from xinyong.ingest import validation

    judge = validation.insert_good_rows
    calls = []

    def stop_the_server_on_the_second_file(*args):
        calls.append(1)
        if len(calls) == 2:  # the second file is in COPY's hands: the server goes away
            embedded.stop(home)
        return judge(*args)

    monkeypatch.setattr(validation, "insert_good_rows", stop_the_server_on_the_second_file)
    with pytest.raises(warehouse.WarehouseError) as stopped:
        ingest.ingest_feed(contracts.load("tax_credit"), settings, url)
    monkeypatch.setattr(validation, "insert_good_rows", judge)

    sentence = str(stopped.value)
    assert "tax_credit/tax_credit_20261120.csv" in sentence and "stays in landing" in sentence
    assert len(sentence.splitlines()) == 1
    assert (folder / "tax_credit_20261120.csv").exists()  # left for the next run
    assert (settings.archive / "tax_credit" / "tax_credit_20261101.csv").exists()  # the first one kept
    with pytest.raises(warehouse.WarehouseError, match="Cannot connect"):  # down: one sentence too
        ingest.ingest_feed(contracts.load("tax_credit"), settings, url)

    embedded.ensure_running(home, port)
    assert query(url, "select file_name from audit.feed_files") == [("tax_credit_20261101.csv",)]
    assert query(
        url, "select count(*) from raw.tax_credit where _source_file = 'tax_credit_20261120.csv'"
    ) == [(0,)]
    (rerun,) = ingest.ingest_feed(contracts.load("tax_credit"), settings, url)
    assert rerun.file_name == "tax_credit_20261120.csv" and rerun.status == "loaded_with_rejects"


def _can_mount() -> str | None:
    if os.geteuid() != 0:
        return "mounting a size-limited tmpfs needs root"
    probe = tempfile.mkdtemp(prefix="xinyong-mount-probe-")
    try:
        if subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe], capture_output=True
        ).returncode:
            return "mount -t tmpfs is not permitted here"
        subprocess.run(["umount", probe], check=True)
        return None
    finally:
        os.rmdir(probe)


def test_a_full_disk_during_copy_rolls_the_file_back_and_it_loads_once_there_is_room(
    settings, pg_server, warehouse_url
):
    """The raw tables' tablespace on a 2 MB tmpfs (WAL stays on the server's own disk, as a
    full data disk leaves it): the COPY fails for want of space, the file's transaction is
    rolled back whole, the file stays in landing; with room made, the rerun loads it."""
    reason = _can_mount()
    if reason:
        pytest.skip(reason)
    import pwd

    mount = Path(tempfile.mkdtemp(prefix="xinyong-full-disk-"))
    os.chmod(mount, 0o755)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount)], check=True)
    space = f"full_{mount.name.replace('-', '_')}"
    try:
        user = pwd.getpwnam(embedded.SYSTEM_USER)
        os.chown(mount, user.pw_uid, user.pw_gid)
        pg_server.admin(
            f"create tablespace {space} location '{mount}'",
            f"grant create on tablespace {space} to {embedded.DB_USER}",
        )
        with psycopg2.connect(warehouse_url) as conn, conn.cursor() as cur:
            cur.execute(f"alter table raw.parking set tablespace {space}")
        conn.close()
        header, rows = _parking_lines()
        path = _write(
            settings.landing / "parking" / "parking_20261101.csv", [header, *_numbered(rows, 40_000)]
        )

        with pytest.raises(warehouse.WarehouseError, match="ran out of disk space while loading parking/"):
            ingest.ingest_feed(contracts.load("parking"), settings, warehouse_url)

        assert path.exists()
        assert query(warehouse_url, "select count(*) from audit.feed_files") == [(0,)]
        assert query(warehouse_url, "select count(*) from raw.parking") == [(0,)]
        subprocess.run(["mount", "-o", "remount,size=256m", str(mount)], check=True)  # room made
        (rerun,) = ingest.ingest_feed(contracts.load("parking"), settings, warehouse_url)
        assert rerun.status == "loaded" and rerun.rows_loaded == 40_000
    finally:
        with psycopg2.connect(warehouse_url) as conn, conn.cursor() as cur:
            cur.execute("alter table raw.parking set tablespace pg_default")
        conn.close()
        pg_server.admin(f"drop tablespace if exists {space}")
        subprocess.run(["umount", str(mount)])
        os.rmdir(mount)
