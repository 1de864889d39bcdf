"""Ingest of a generated sample district: every file and every deliberately bad row accounted for."""

import csv
import json

import pytest

from synthetic import generate
from tests.conftest import query
from xinyong import ingest
from xinyong.ingest import contracts

pytestmark = pytest.mark.integration


@pytest.fixture
def district(settings, warehouse_url):
    """A sample district (with the broken-header file) generated into the landing folder and ingested."""
    manifest = generate.generate("sample", 7, settings.landing, broken_header=True)
    (settings.landing / generate.MANIFEST_NAME).unlink()
    outcomes = [
        o for c in contracts.load_all().values() for o in ingest.ingest_feed(c, settings, warehouse_url)
    ]
    return manifest, {o.file_name: o for o in outcomes}


def test_every_file_is_accounted_for(district, warehouse_url):
    manifest, outcomes = district
    data_files = {f["file"] for f in manifest["files"] if f["kind"] != "partial"}
    assert set(outcomes) == data_files
    for name, read, loaded, rejected in query(
        warehouse_url,
        """select file_name, rows_read, rows_loaded, rows_rejected
                                                                from audit.feed_files""",
    ):
        assert read == loaded + rejected, name
    for entry in manifest["files"]:
        if entry["kind"] == "data":
            outcome = outcomes[entry["file"]]
            assert outcome.rows_read == entry["rows"], entry["file"]
            assert outcome.rows_rejected == entry["bad_rows"], entry["file"]
            assert outcome.status == ("loaded_with_rejects" if entry["bad_rows"] else "loaded"), entry["file"]


def test_each_deliberately_bad_row_is_rejected_with_its_column(district, warehouse_url):
    manifest, _ = district
    rejected = {
        (f, r) for f, r in query(warehouse_url, "select file_name, row_number from audit.rejected_rows")
    }
    bad = [(f["file"], row) for f in manifest["files"] if f["kind"] == "data" for row in f["bad_row_numbers"]]
    assert bad, "the sample district has bad rows"
    assert {b for b in bad} <= rejected
    # and nothing else was rejected from the data files
    data_files = {f["file"] for f in manifest["files"] if f["kind"] == "data"}
    assert {r for r in rejected if r[0] in data_files} == set(bad)


def test_the_second_drop_is_a_duplicate_and_the_part_file_waits(district, settings, warehouse_url):
    manifest, outcomes = district
    [dup] = [f for f in manifest["files"] if f["kind"] == "duplicate"]
    assert outcomes[dup["file"]].status == "duplicate" and outcomes[dup["file"]].rows_loaded == 0
    [partial] = [f for f in manifest["files"] if f["kind"] == "partial"]
    assert (settings.landing / partial["feed"] / partial["file"]).exists()
    assert ingest.pending_files(settings.landing, partial["feed"]) == []


def test_the_broken_header_file_is_quarantined_whole(district, settings, warehouse_url):
    manifest, outcomes = district
    [broken] = [f for f in manifest["files"] if f["kind"] == "broken_header"]
    outcome = outcomes[broken["file"]]
    assert outcome.status == "quarantined"
    # refused on its header alone: no data row is read
    assert (outcome.rows_read, outcome.rows_loaded, outcome.rows_rejected) == (0, 0, 0)
    assert query(
        warehouse_url, "select count(*) from raw.entity_register where _source_file = %s", (broken["file"],)
    ) == [(0,)]
    assert (settings.quarantine / "entity_register" / broken["file"]).exists()


def test_an_unknown_extra_column_is_kept_and_reported(settings, warehouse_url, tmp_path):
    generate.generate("sample", 7, tmp_path / "gen")
    source = tmp_path / "gen" / "credit_repair" / "credit_repair_20261120.csv"
    with source.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    rows[0].append("经办人备注")
    for i, row in enumerate(rows[1:], start=2):
        row.append(f"备注{i}" if i % 2 else "")
    (settings.landing / "credit_repair").mkdir()
    with (settings.landing / "credit_repair" / source.name).open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    [outcome] = ingest.ingest_feed(contracts.load("credit_repair"), settings, warehouse_url)
    assert outcome.status == "loaded" and outcome.rows_loaded == len(rows) - 1
    assert "未知列已随数据保留：经办人备注" in outcome.message
    extras = dict(query(warehouse_url, "select _source_row, _extra from raw.credit_repair"))
    assert extras[3] == {"经办人备注": "备注3"}
    assert extras[2] is None  # an empty cell of the unknown column is not kept


def test_generated_district_ingests_the_same_way_row_by_row(settings, warehouse_url, tmp_path):
    """A blank line sends a CSV through Python's reader instead of COPY: same rows, same findings."""
    generate.generate("sample", 7, tmp_path / "gen")
    source = tmp_path / "gen" / "tax_credit" / "tax_credit_20261120.csv"
    data = source.read_bytes()
    first_break = data.index(b"\r\n") if b"\r\n" in data else data.index(b"\n")
    (settings.landing / "tax_credit").mkdir()
    target = settings.landing / "tax_credit" / "tax_credit_20261121.csv"
    target.write_bytes(
        data + (b"\r\n" if data[first_break : first_break + 2] == b"\r\n" else b"\n")
    )  # blank last line
    manifest = json.loads((tmp_path / "gen" / generate.MANIFEST_NAME).read_text(encoding="utf-8"))
    [entry] = [f for f in manifest["files"] if f["file"] == source.name]
    [outcome] = ingest.ingest_feed(contracts.load("tax_credit"), settings, warehouse_url)
    assert (outcome.rows_read, outcome.rows_rejected) == (entry["rows"], entry["bad_rows"])
    rows = {r for (r,) in query(warehouse_url, "select row_number from audit.rejected_rows")}
    assert rows == set(entry["bad_row_numbers"])


def test_a_ragged_row_falls_back_to_the_row_by_row_reader(settings, warehouse_url):
    """COPY refuses a row with a cell too many; the file is then read row by row, nothing lost."""
    from tests.conftest import SAMPLES

    lines = (SAMPLES / "parking_20261120.csv").read_text(encoding="utf-8").splitlines()
    lines[5] += ",多出的一格"
    (settings.landing / "parking").mkdir()
    (settings.landing / "parking" / "parking_20261123.csv").write_text(
        "\n".join(lines) + "\n", encoding="utf-8"
    )
    [outcome] = ingest.ingest_feed(contracts.load("parking"), settings, warehouse_url)
    assert (outcome.status, outcome.rows_read, outcome.rows_loaded) == (
        "loaded",
        len(lines) - 1,
        len(lines) - 1,
    )
    assert query(warehouse_url, "select min(_source_row), max(_source_row) from raw.parking") == [
        (2, len(lines))
    ]
