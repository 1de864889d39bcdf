"""A landing folder is written by departments: nothing in it may make the platform read, or
quote back, a file outside it (issue 11: the symbolic-link hole)."""

import os
import shutil

import pytest

from tests.conftest import SAMPLES, query
from xinyong import ingest
from xinyong.ingest import contracts

pytestmark = pytest.mark.integration
SECRET = "0123456789abcdef-the-person-key-never-leaves"


def _feed_dir(settings, feed="tax_credit"):
    folder = settings.landing / feed
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _everything_said(url, settings) -> str:
    """Every message and report the platform produced about the files."""
    said = " ".join(str(r) for r in query(url, "select file_name, status, message from audit.feed_files"))
    said += " ".join(str(r) for r in query(url, "select * from audit.rejected_rows"))
    reports = settings.reports
    if reports.exists():
        for path in reports.rglob("*"):
            if path.is_file():
                said += path.read_text(encoding="utf-8", errors="replace")
    return said


def test_a_symlink_to_a_secret_is_refused_unread_and_the_next_file_loads(settings, warehouse_url, tmp_path):
    secret = tmp_path / "person_key"
    secret.write_text(SECRET + "\n")
    folder = _feed_dir(settings)
    (folder / "tax_credit_20261108.csv").symlink_to(secret)
    shutil.copy(SAMPLES / "tax_credit_20261120.csv", folder)

    outcomes = {
        o.file_name: o for o in ingest.ingest_feed(contracts.load("tax_credit"), settings, warehouse_url)
    }

    refused = outcomes["tax_credit_20261108.csv"]
    assert refused.status == "unreadable" and "符号链接" in refused.message
    assert outcomes["tax_credit_20261120.csv"].status == "loaded_with_rejects"  # the next file goes on
    assert SECRET not in _everything_said(warehouse_url, settings)
    assert secret.read_text() == SECRET + "\n"  # the target untouched
    moved = settings.quarantine / "tax_credit" / "tax_credit_20261108.csv"
    assert moved.is_symlink() and not (folder / "tax_credit_20261108.csv").exists()
    assert query(
        warehouse_url, "select count(*) from raw.tax_credit where _source_file = 'tax_credit_20261108.csv'"
    ) == [(0,)]


def test_a_linked_feed_folder_is_not_followed(settings, warehouse_url, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "tax_credit_20261108.csv").write_text("统一社会信用代码\n" + SECRET + "\n")
    os.symlink(outside, settings.landing / "tax_credit")

    outcomes = ingest.ingest_feed(contracts.load("tax_credit"), settings, warehouse_url)
    found = ingest.unknown_landing_entries(settings)

    # Nothing in the linked folder is read, recorded or moved; the link itself is reported.
    assert outcomes == [] and (outside / "tax_credit_20261108.csv").exists()
    assert [entry for entry, _ in found] == ["tax_credit"] and "符号链接" in found[0][1]
    assert SECRET not in _everything_said(warehouse_url, settings)


def test_a_long_header_is_quoted_short(settings, warehouse_url):
    folder = _feed_dir(settings)
    sample = (SAMPLES / "tax_credit_20261120.csv").read_bytes()
    header, rest = sample.split(b"\n", 1)
    long_column = "列" * 1000
    (folder / "tax_credit_20261121.csv").write_bytes(
        header.rstrip(b"\r")
        + f",{long_column}".encode("gb18030" if not header.startswith(b"\xef\xbb\xbf") else "utf-8")
        + b"\n"
        + rest
    )

    (outcome,) = ingest.ingest_feed(contracts.load("tax_credit"), settings, warehouse_url)

    assert "未知列" in outcome.message and long_column not in outcome.message
    assert len(outcome.message) < 300


def test_bad_files_each_get_a_reason_and_the_good_one_loads(settings, warehouse_url):
    """One bad file is one bad file: NUL bytes, binary, empty, 10,000 columns, a zip bomb."""
    import zipfile

    folder = _feed_dir(settings)
    sample = (SAMPLES / "tax_credit_20261120.csv").read_bytes()
    (folder / "tax_credit_20261101.csv").write_bytes(sample[:200] + b"\x00" + sample[200:])
    (folder / "tax_credit_20261102.csv").write_bytes(bytes(range(256)) * 64)
    (folder / "tax_credit_20261103.csv").write_bytes(b"")
    (folder / "tax_credit_20261104.csv").write_text(",".join(f"c{i}" for i in range(10_000)) + "\n1\n")
    with zipfile.ZipFile(folder / "tax_credit_20261105.xlsx", "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("xl/worksheets/sheet1.xml", b"\0" * (300 * 1024 * 1024))  # ~300 KB zipped
    shutil.copy(SAMPLES / "tax_credit_20261120.csv", folder)

    outcomes = {
        o.file_name: o for o in ingest.ingest_feed(contracts.load("tax_credit"), settings, warehouse_url)
    }

    reasons = {name: o.message for name, o in outcomes.items() if o.status == "unreadable"}
    assert set(reasons) == {f"tax_credit_2026110{i}.{'xlsx' if i == 5 else 'csv'}" for i in range(1, 6)}
    assert "NUL" in reasons["tax_credit_20261101.csv"]
    assert "NUL" in reasons["tax_credit_20261102.csv"]
    assert "为空" in reasons["tax_credit_20261103.csv"]
    assert "10,000 列" in reasons["tax_credit_20261104.csv"]
    assert "解压后" in reasons["tax_credit_20261105.xlsx"]
    assert all(len(m) < 200 for m in reasons.values())
    assert outcomes["tax_credit_20261120.csv"].status == "loaded_with_rejects"
    assert ingest.pending_files(settings.landing, "tax_credit") == []
