"""A key repeated inside one file (issue 11): rows that contradict each other are all
rejected, each naming the others, the key and the differing columns; an exact repeat loads
once. Both ingest paths judge alike, the rejects count toward the quarantine threshold, and
across files the newer as-of still wins."""

import dataclasses

import openpyxl
import pytest

from tests.conftest import EVALUATION_DATE, SAMPLES, query
from tests.integration.test_ingest_bulk import KEY, both_paths
from xinyong import ingest
from xinyong.ingest import contracts

pytestmark = pytest.mark.integration
TAX_KEY = "统一社会信用代码、评价年度"


@pytest.fixture(autouse=True)
def same_person_key(monkeypatch):
    monkeypatch.setenv("XINYONG_PERSON_KEY", KEY)


def tax_rows(years=(2021, 2022, 2023, 2024, 2025)) -> tuple[str, list[list[str]]]:
    """The sample's header and its 20 good rows once per evaluation year (distinct keys)."""
    header, *lines = (SAMPLES / "tax_credit_20261120.csv").read_bytes().decode("gb18030").splitlines()
    good = [line.split(",") for line in lines[:-1]]  # the last row has a bad USCC
    return header, [[row[0], row[1], str(year), *row[3:]] for year in years for row in good]


def write_csv(landing, feed: str, name: str, header: str, rows: list[list[str]]) -> None:
    (landing / feed).mkdir(parents=True, exist_ok=True)
    (landing / feed / name).write_text(
        "\n".join([header, *(",".join(r) for r in rows)]) + "\n", encoding="utf-8"
    )


def with_values(row: list[str], **changes) -> list[str]:
    names = [c.name for c in contracts.load("tax_credit").columns]
    row = list(row)
    for name, value in changes.items():
        row[names.index(name)] = value
    return row


def test_repeated_keys_are_judged_alike_on_both_paths(pg_server, tmp_path, caplog):
    header, rows = tax_rows()  # rows 2..101, 2025 last: rows 82..101
    u1, u2, u3, u4 = rows[80], rows[81], rows[82], rows[83]
    assert (u1[3], u3[4], u3[5]) == ("A", "88", "36000")
    repeats = [
        with_values(u1, tax_grade="D"),  # 102: contradicts row 82
        list(u2),  # 103: an exact copy of row 83
        list(u3),  # 104: copy of row 84 ...
        with_values(u3, tax_score="40", tax_arrears_yuan='"1,000"'),  # 105: ... which this one contradicts
        with_values(
            u4, uscc=" " + u4[0].lower(), tax_score="８３"
        ),  # 106: row 85 once cleaned (general path)
    ]

    def fill(landing):
        write_csv(landing, "tax_credit", "tax_credit_20261120.csv", header, rows + repeats)

    in_bulk, row_by_row, bulk_rows = both_paths(pg_server, tmp_path, fill, caplog)
    assert in_bulk == row_by_row
    assert bulk_rows >= 95, "the plain rows took the bulk path"
    [(_, _, status, read, loaded, rejected, message)] = in_bulk["files"]
    assert (status, read, loaded, rejected) == ("loaded_with_rejects", 105, 98, 7)

    def key(row):
        return f"（{TAX_KEY} = {row[0]}, 2025）"

    assert [r[2:] for r in in_bulk["rejected"]] == [
        (
            82,
            "纳税信用等级",
            "A",
            f"与第 102 行键相同{key(u1)}但 纳税信用等级 不同（第 82 行 A，第 102 行 D）",
        ),
        (
            84,
            "欠税余额（元）",
            "36000",
            f"与第 104、105 行键相同{key(u3)}但 欠税余额（元） 不同"
            "（第 84 行 36000，第 104 行 36000，第 105 行 1000）",
        ),
        (
            84,
            "评价得分",
            "88",
            f"与第 104、105 行键相同{key(u3)}但 评价得分 不同（第 84 行 88，第 104 行 88，第 105 行 40）",
        ),
        (
            102,
            "纳税信用等级",
            "D",
            f"与第 82 行键相同{key(u1)}但 纳税信用等级 不同（第 82 行 A，第 102 行 D）",
        ),
        (103, TAX_KEY, f"{u2[0]}, 2025", "与第 83 行完全相同，重复行未加载"),
        (
            104,
            "欠税余额（元）",
            "36000",
            f"与第 84、105 行键相同{key(u3)}但 欠税余额（元） 不同"
            "（第 84 行 36000，第 104 行 36000，第 105 行 1000）",
        ),
        (
            104,
            "评价得分",
            "88",
            f"与第 84、105 行键相同{key(u3)}但 评价得分 不同（第 84 行 88，第 104 行 88，第 105 行 40）",
        ),
        (
            105,
            "欠税余额（元）",
            "1000",
            f"与第 84、104 行键相同{key(u3)}但 欠税余额（元） 不同"
            "（第 84 行 36000，第 104 行 36000，第 105 行 1000）",
        ),
        (
            105,
            "评价得分",
            "40",
            f"与第 84、104 行键相同{key(u3)}但 评价得分 不同（第 84 行 88，第 104 行 88，第 105 行 40）",
        ),
        (106, TAX_KEY, f"{u4[0]}, 2025", "与第 85 行完全相同，重复行未加载"),
    ]
    # the contradicting rows are all gone; an exact repeat is there once, as its first row
    kept = {(r[0], r[1]): r for r in in_bulk["tax_credit"]}
    assert ("tax_credit_20261120.csv", 83) in kept and ("tax_credit_20261120.csv", 85) in kept
    assert not {82, 84, 102, 103, 104, 105, 106} & {row for _, row in kept}
    assert {r[3] for r in in_bulk["tax_credit"] if r[5] == "2025"} == {r[0] for r in rows[80:]} - {
        u1[0],
        u3[0],
    }


@pytest.mark.parametrize("bulk_ingest", [True, False], ids=["bulk", "general"])
def test_repeats_count_toward_the_reject_share(settings, warehouse_url, bulk_ingest):
    header, rows = tax_rows(years=[2025])
    write_csv(settings.landing, "tax_credit", "tax_credit_20261120.csv", header, rows + rows[:3])
    settings = dataclasses.replace(settings, bulk_ingest=bulk_ingest)
    [outcome] = ingest.ingest_feed(contracts.load("tax_credit"), settings, warehouse_url)
    assert (outcome.status, outcome.rows_read, outcome.rows_loaded, outcome.rows_rejected) == (
        "quarantined",
        23,
        0,
        23,
    )
    assert outcome.message.startswith("错误行占 13.0%，超过 10% 的退回阈值")
    assert query(warehouse_url, "select count(*) from raw.tax_credit") == [(0,)]
    assert query(warehouse_url, "select row_number, reason from audit.rejected_rows order by 1") == [
        (22, "与第 2 行完全相同，重复行未加载"),
        (23, "与第 3 行完全相同，重复行未加载"),
        (24, "与第 4 行完全相同，重复行未加载"),
    ]
    assert (settings.quarantine / "tax_credit" / "tax_credit_20261120.csv").exists()


def household_rows() -> tuple[list, list[list]]:
    sheet = openpyxl.load_workbook(SAMPLES / "credit_household_20261120.xlsx").active
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    return header, rows


def test_a_personal_key_is_masked_in_the_reasons(settings, warehouse_url):
    """An XLSX (the general path) repeating a household's 身份证 and year with another name."""
    header, rows = household_rows()
    other = list(rows[0])
    other[0] = "侯国华"
    book = openpyxl.Workbook()
    for row in [header, *rows, other]:
        book.active.append(row)
    (settings.landing / "credit_household").mkdir()
    book.save(settings.landing / "credit_household" / "credit_household_20261121.xlsx")
    [outcome] = ingest.ingest_feed(contracts.load("credit_household"), settings, warehouse_url)
    assert (outcome.status, outcome.rows_loaded, outcome.rows_rejected) == ("loaded_with_rejects", 23, 2)
    id_number = rows[0][1]
    key = f"（身份证号码、评定年度 = {id_number[:6]}********{id_number[-4:]}, 2025）"
    assert query(
        warehouse_url, "select row_number, column_name, value, reason from audit.rejected_rows order by 1"
    ) == [
        (2, "户主姓名", "侯**", f"与第 26 行键相同{key}但 户主姓名 不同（第 2 行 侯**，第 26 行 侯**）"),
        (26, "户主姓名", "侯**", f"与第 2 行键相同{key}但 户主姓名 不同（第 2 行 侯**，第 26 行 侯**）"),
    ]
    assert query(
        warehouse_url, "select count(*) from raw.credit_household where id_number = %s", (id_number,)
    ) == [(0,)]
    assert query(
        warehouse_url, "select count(*) from raw.personal_id_digests where id_value = %s", (id_number,)
    ) == [(0,)]


def test_a_personal_key_repeated_in_a_plain_csv_leaves_no_digest(pg_server, tmp_path, caplog):
    """The bulk path hashes plain rows' numbers during COPY: a number whose rows are all
    taken out for a repeated key gets no digest there either (compared with the general path)."""
    header, rows = household_rows()
    text = [[("" if v is None else str(v)) for v in row] for row in rows]
    once = text[2]  # a household only in the 2025 block: its number has no other row
    lines = [row[:-1] + [str(year)] for year in (2023, 2024) for row in text if row is not once] + text
    exact, contradicting = list(text[1]), list(once)
    contradicting[10] = "差" if contradicting[10] != "差" else "优"
    lines += [exact, contradicting]

    def fill(landing):
        write_csv(landing, "credit_household", "credit_household_20261121.csv", ",".join(header), lines)

    in_bulk, row_by_row, bulk_rows = both_paths(pg_server, tmp_path, fill, caplog)
    assert in_bulk == row_by_row and bulk_rows > 60
    first, copy = lines.index(text[1]) + 2, len(lines) + 1
    assert [(r[2], r[3], r[5].split("（")[0].split("，")[0]) for r in in_bulk["rejected"]] == [
        (first + 1, "村委会评价", f"与第 {copy} 行键相同"),
        (copy - 1, "身份证号码、评定年度", f"与第 {first} 行完全相同"),
        (copy, "村委会评价", f"与第 {first + 1} 行键相同"),
    ]
    digested = {i for i, _ in in_bulk["digests"]}
    assert text[1][1] in digested and once[1] not in digested


def test_across_files_the_newer_as_of_still_wins(settings, warehouse_url, tmp_path, monkeypatch):
    """A key once in each of two files is no repeat: both load, and staging takes the newer."""
    from xinyong.publication import build

    header, rows = tax_rows(years=[2025])
    write_csv(settings.landing, "tax_credit", "tax_credit_20261120.csv", header, rows)
    write_csv(
        settings.landing,
        "tax_credit",
        "tax_credit_20261121.csv",
        header,
        [with_values(rows[0], tax_grade="D", data_date="2026-11-20")],
    )
    outcomes = ingest.ingest_feed(contracts.load("tax_credit"), settings, warehouse_url)
    assert [(o.status, o.rows_loaded) for o in outcomes] == [("loaded", 20), ("loaded", 1)]
    result = build.run_dbt(
        [
            "run",
            "--select",
            "stg_tax_credit__ratings",
            "--vars",
            f"{{evaluation_date: '{EVALUATION_DATE}', publish_schema: publish_candidate}}",
        ],
        warehouse_url,
        settings,
        tmp_path / "dbt",
    )
    assert result.success
    assert query(
        warehouse_url,
        "select tax_grade, source_file from staging.stg_tax_credit__ratings where uscc = %s",
        (rows[0][0],),
    ) == [("D", "tax_credit_20261121.csv")]


def test_repeats_of_a_code_key_told_from_the_plain_text_are_judged_alike(pg_server, tmp_path, caplog):
    """A key of codes is checked for repeats from the plain rows' text (bulk.repeated_key_candidates):
    repeats among plain rows, between a plain row and one the general path cleaned, among
    cleaned rows; a plain row taken back for a rule leaves the other row with its key alone."""
    header, *lines = (SAMPLES / "parking_20261120.csv").read_text(encoding="utf-8").splitlines()
    rows = [line.split(",") for line in lines]
    names = [c.name for c in contracts.load("parking").columns]
    a, b, c, d = rows[0], rows[1], rows[2], rows[4]  # file rows 2, 3, 4 and 6

    def changed(row, **cells):
        row = list(row)
        for name, value in cells.items():
            row[names.index(name)] = value
        return row

    early = "2000-01-01 00:00:00"  # leaving before entering breaks a rule
    extra = [
        list(a),  # plain, an exact copy of row 2: loads once
        changed(b, amount_due_yuan="99.00"),  # plain, contradicts row 3: both out
        changed(c, record_no=c[0].lower()),  # cleaned by the general path into row 4 exactly
        changed(a, record_no="bsp-new-1"),  # two cleaned rows sharing a key of their own
        changed(b, record_no="Bsp-New-1"),
        changed(d, left_at=early),  # plain, breaks the rule, row 6's key
        changed(d, record_no="BSP-TWIN"),  # plain; its twin breaks the rule
        changed(d, record_no="BSP-TWIN", left_at=early),
    ]

    # more good rows of keys of their own, so that the rejects stay under the quarantine share
    more = [changed(row, record_no=f"{row[0]}{suffix}") for suffix in "AB" for row in rows]

    def fill(landing):
        write_csv(landing, "parking", "parking_20261122.csv", header, rows + more + extra)

    in_bulk, row_by_row, bulk_rows = both_paths(pg_server, tmp_path, fill, caplog)
    assert in_bulk == row_by_row
    assert bulk_rows >= len(rows) + len(more), "the sample's rows took the bulk path"
    first = len(rows) + len(more) + 2  # the file row of the first extra line
    reasons = {}
    for r in in_bulk["rejected"]:
        reasons.setdefault(r[2], r[5])
    assert reasons[first].startswith("与第 2 行完全相同")
    assert reasons[first + 2].startswith("与第 4 行完全相同")
    for row, other in ((3, first + 1), (first + 1, 3), (first + 3, first + 4), (first + 4, first + 3)):
        assert reasons[row].startswith(f"与第 {other} 行键相同"), reasons[row]
    assert "键" not in reasons[first + 5] and "键" not in reasons[first + 7]
    loaded = {r[1] for r in in_bulk["parking"]}
    assert {2, 4, 6, first + 6} <= loaded and not {3, first + 5, first + 7} & loaded
