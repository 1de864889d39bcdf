"""The bulk path (xinyong/ingest/bulk.py) judges every row exactly as the general, row-by-row SQL path does."""

import logging
import re

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from synthetic import generate
from tests.conftest import SAMPLES, new_database, query
from xinyong import ingest
from xinyong.ingest import bulk, contracts, validation
from xinyong.ingest.contracts import Column
from xinyong.runtime import config

pytestmark = pytest.mark.integration
KEY = "5a" * 32


def ingest_everything(landing, home, url, bulk_ingest: bool):
    settings = config.Settings(
        home=home,
        landing=landing,
        warehouse_url=url,
        embedded_port=0,
        evaluation_date=None,
        bulk_ingest=bulk_ingest,
    )
    return [o for c in contracts.load_all().values() for o in ingest.ingest_feed(c, settings, url)]


def snapshot(url) -> dict:
    """Everything the ingest leaves behind, without ids and times that differ between runs."""
    state = {
        "files": sorted(
            query(
                url,
                """select feed, file_name, status, rows_read, rows_loaded, rows_rejected,
                                             coalesce(message, '') from audit.feed_files""",
            )
        ),
        "rejected": sorted(
            query(
                url,
                """select feed, file_name, row_number, column_name, coalesce(value, ''), reason
                                          from audit.rejected_rows""",
            )
        ),
        "digests": sorted(query(url, "select id_value, digest from raw.personal_id_digests")),
    }
    for contract in contracts.load_all().values():
        columns = ", ".join(f"{c.name}::text" for c in contract.columns)
        state[contract.feed] = sorted(
            query(
                url,
                f"""select _source_file, _source_row, _as_of::text, {columns},
                                                        coalesce(_extra::text, '') from {contract.raw_table}""",
            ),
            key=repr,
        )
    return state


def both_paths(pg_server, tmp_path, fill_landing, caplog) -> tuple[dict, dict, int]:
    """Ingest the same files once in bulk and once row by row; both snapshots and the bulk row count."""
    snapshots = {}
    caplog.set_level(logging.INFO, logger="xinyong.ingest.loader")
    for bulk_ingest in (True, False):
        landing = tmp_path / f"landing-{bulk_ingest}"
        fill_landing(landing)
        with new_database(pg_server) as url:
            ingest_everything(landing, tmp_path / f"home-{bulk_ingest}", url, bulk_ingest)
            snapshots[bulk_ingest] = snapshot(url)
    bulk_rows = sum(
        int(m.group(1)) for m in re.finditer(r"(\d+) plain ones loaded by the bulk path", caplog.text)
    )
    return snapshots[True], snapshots[False], bulk_rows


@pytest.fixture(autouse=True)
def same_person_key(monkeypatch):
    monkeypatch.setenv("XINYONG_PERSON_KEY", KEY)


def test_a_generated_district_is_judged_the_same_by_both_paths(pg_server, tmp_path, caplog):
    def fill(landing):
        generate.generate("sample", 11, landing, broken_header=True)
        (landing / generate.MANIFEST_NAME).unlink()

    in_bulk, row_by_row, bulk_rows = both_paths(pg_server, tmp_path, fill, caplog)
    assert in_bulk == row_by_row
    loaded = sum(f[4] for f in in_bulk["files"])
    assert bulk_rows > loaded / 2, "most generated rows are plain and should take the bulk path"
    assert in_bulk["rejected"], "the generated district has bad rows to compare"


def test_rows_needing_cleaning_or_breaking_rules_take_the_general_path(pg_server, tmp_path, caplog):
    lines = (SAMPLES / "parking_20261120.csv").read_text(encoding="utf-8").splitlines()
    plain = lines[1].split(",")

    def variant(**cells):
        row = list(plain)
        names = [c.name for c in contracts.load("parking").columns]
        for name, value in cells.items():
            row[names.index(name)] = value
        return ",".join(row)

    record = plain[0]
    variants = [
        variant(record_no=record + "A", amount_due_yuan="１２.５０"),  # full-width digits: cleaned, loaded
        variant(record_no=record + "B", plate_no=plain[1].lower()),  # lower case: upper-cased, loaded
        variant(record_no=" " + record + "C "),  # spaces: trimmed, loaded
        variant(
            record_no=record + "D", entered_at="2024-02-29 08:00:00", left_at="", last_paid_at=""
        ),  # leap day
        variant(
            record_no=record + "E", owner_id=plain[3][:-1] + ("0" if plain[3][-1] != "0" else "1")
        ),  # check digit
        variant(record_no=record + "F", left_at="2020-01-01 00:00:00"),  # leaves before it enters
        variant(record_no=record + "G", amount_paid_yuan='"1,234.50"'),  # separators, quoted
        variant(record_no=record + "H", owner_type="单位", owner_id="91500115MA5U8XXXXX"),  # bad USCC
        variant(record_no=record + "I", reminder_count="007"),  # leading zeros: same number
        variant(record_no=record + "J", payment_status="已缴 "),  # enumeration with a space
        # below the contract's minimum of 0: the bulk path has no 'min' rule for a plain
        # amount (validation.UNSIGNED_WHEN_PLAIN), so this row must not be plain
        variant(record_no=record + "K", amount_due_yuan="-1.00"),
    ]

    def fill(landing):
        (landing / "parking").mkdir(parents=True)
        (landing / "parking" / "parking_20261121.csv").write_text(
            "\n".join([*lines, *variants]) + "\n", encoding="utf-8"
        )

    in_bulk, row_by_row, bulk_rows = both_paths(pg_server, tmp_path, fill, caplog)
    assert in_bulk == row_by_row
    [(_, _, status, read, loaded, rejected, _)] = in_bulk["files"]
    assert status == "loaded_with_rejects" and read == len(lines) - 1 + len(variants)
    first = len(lines) + 1  # row number of the first variant
    bad = {first + 4, first + 5, first + 7, first + 10}  # check digit, leaves early, bad USCC, below 0
    assert {r[2] for r in in_bulk["rejected"]} & set(range(first, first + len(variants))) == bad
    assert 0 < bulk_rows <= len(lines) - 1  # none of the variants is plain and rule-abiding


def test_a_file_arrow_cannot_read_falls_back_whole(pg_server, tmp_path, caplog):
    """A ragged row: the bulk path steps aside before writing anything, the general one copes."""
    lines = (SAMPLES / "parking_20261120.csv").read_text(encoding="utf-8").splitlines()
    lines[3] += ",多出的一格"

    def fill(landing):
        (landing / "parking").mkdir(parents=True)
        (landing / "parking" / "parking_20261121.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    in_bulk, row_by_row, bulk_rows = both_paths(pg_server, tmp_path, fill, caplog)
    assert in_bulk == row_by_row and bulk_rows == 0
    assert "not for the bulk path" in caplog.text


# A value the plain patterns accept must be one the general path accepts unchanged, and
# PostgreSQL must give it back as the same text: the bulk path relies on both.
TYPES = ["code", "text", "date", "datetime", "amount", "integer", "year"]
near_valid = st.one_of(
    st.from_regex(r"\A[12][0-9]{3}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}(:[0-9]{2})?)?\Z"),
    st.from_regex(r"\A-?[0-9]{1,17}(\.[0-9]{0,7})?\Z"),
    st.text(alphabet=' \u3000\u00a0\tAaZz09-_,"１Ｚ渝é\n', min_size=1, max_size=8),
)


@hsettings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(TYPES), text=near_valid)
def test_plain_values_are_taken_as_they_are(cur, kind, text):
    col = Column(name="v", header="v", type=kind)
    if not bulk._plain_mask(col, pa.array([text], pa.string()))[0].as_py():
        return
    cur.execute("set datestyle = 'ISO, YMD'")
    cur.execute(
        f"select ({validation.typed_expr(col, 's.t')})::text "
        f"from (select {validation.text_expr(col, '%s')} as t) s",
        (text,),
    )
    assert cur.fetchone()[0] == text
