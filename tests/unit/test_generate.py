"""The synthetic feed generator writes what the department contract describes.

Everything is checked from the files, with check-character rules implemented here
independently of synthetic.generate; the manifest is only trusted for which rows are
deliberately bad, and those must then really fail.
"""

from __future__ import annotations

import csv
import datetime
import json
import pkgutil
import re
from pathlib import Path

import openpyxl
import pytest
import yaml

from synthetic import feeds
from synthetic.generate import MANIFEST_NAME, SCALES, generate
from xinyong.ingest import contracts, departments

AS_OF = datetime.date(2026, 11, 20)
SEED = 7
REPO = Path(__file__).resolve().parents[2]
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
FULLWIDTH_DIGITS = "０１２３４５６７８９"

FILES = {
    "entity_register": {"entity_register_20261120.csv"},
    "tax_credit": {"tax_credit_20261120.csv", "tax_credit_20261120_2.csv"},
    "penalty": {"penalty_20261120.csv"},
    "parking": {"parking_20261120.csv", "parking_20261121.csv", "parking_20261122.csv.part"},
    "rural_cooperative": {"rural_cooperative_20261120.xlsx"},
    "credit_household": {"credit_household_20261120.xlsx"},
    "credit_repair": {"credit_repair_20261120.csv"},
    "commitment": {"commitment_20261120.csv", "commitment_20261121.csv"},
    "domain_rating": {"domain_rating_20261120.xlsx"},
    "court_dishonest": {"court_dishonest_20261120.csv"},
    "list_exchange": {"list_exchange_20261120.csv"},
    "loan_outcome": {"loan_outcome_20261120.csv", "loan_outcome_20261121.csv"},
}
MAIN_FILE = {
    "entity_register": "entity_register_20261120.csv",
    "tax_credit": "tax_credit_20261120.csv",
    "penalty": "penalty_20261120.csv",
    "parking": "parking_20261120.csv",
    "rural_cooperative": "rural_cooperative_20261120.xlsx",
    "credit_household": "credit_household_20261120.xlsx",
    "credit_repair": "credit_repair_20261120.csv",
    "commitment": "commitment_20261120.csv",
    "domain_rating": "domain_rating_20261120.xlsx",
    "court_dishonest": "court_dishonest_20261120.csv",
    "list_exchange": "list_exchange_20261120.csv",
    "loan_outcome": "loan_outcome_20261120.csv",
}
ENCODING = {
    "entity_register": "utf-8-sig",
    "tax_credit": "gb18030",
    "penalty": "gb18030",
    "parking": "utf-8",
    "credit_repair": "utf-8",
    "commitment": "utf-8",
    "court_dishonest": "gb18030",
    "list_exchange": "gb18030",
    "loan_outcome": "utf-8-sig",
}
HEADERS = {feed: [column.header for column in contracts.load(feed).columns] for feed in FILES}


# ------------------------------------------------------------------ independent rules


def uscc_ok(code: str) -> bool:
    if len(code) != 18 or any(c not in USCC_ALPHABET for c in code):
        return False
    total = sum(USCC_ALPHABET.index(c) * 3**i % 31 for i, c in enumerate(code[:17]))
    return USCC_ALPHABET[(31 - total % 31) % 31] == code[17]


def birth_date(ric: str) -> datetime.date | None:
    try:
        return datetime.date(int(ric[6:10]), int(ric[10:12]), int(ric[12:14]))
    except ValueError:
        return None


def ric_ok(ric: str) -> bool:
    if not re.fullmatch(r"\d{17}[\dX]", ric) or birth_date(ric) is None:
        return False
    return "10X98765432"[sum(int(c) * w for c, w in zip(ric, RIC_WEIGHTS, strict=False)) % 11] == ric[17]


def trim(value):
    return value.strip(" \u3000") if isinstance(value, str) else value


def parse_date(text: str) -> datetime.date:
    for pattern in (
        r"(\d{4})-(\d{2})-(\d{2})",
        r"(\d{4})/(\d{1,2})/(\d{1,2})",
        r"(\d{4})(\d{2})(\d{2})",
        r"(\d{4})年(\d{1,2})月(\d{1,2})日",
    ):
        match = re.fullmatch(pattern, text)
        if match:
            return datetime.date(*map(int, match.groups()))
    raise ValueError(text)


def parse_amount(text: str) -> float:
    return float(text.translate(str.maketrans(FULLWIDTH_DIGITS, "0123456789")).replace(",", ""))


def add_months(day: datetime.date, months: int) -> datetime.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    while True:
        try:
            return datetime.date(year, month, day.day)
        except ValueError:
            day = day - datetime.timedelta(days=1)


# ------------------------------------------------------------------------- reading


def read_table(path: Path, encoding: str | None) -> list[list]:
    """All records, header first, as the file holds them."""
    if path.suffix == ".xlsx":
        workbook = openpyxl.load_workbook(path, read_only=True)
        rows = [[cell for cell in row] for row in workbook.worksheets[0].iter_rows(values_only=True)]
        workbook.close()
        return rows
    with open(path, encoding=encoding, newline="") as handle:
        return list(csv.reader(handle))


class Landing:
    def __init__(self, out: Path, summary: dict, progress_calls: list) -> None:
        self.out, self.summary, self.progress_calls = out, summary, progress_calls
        self.entries = {entry["file"]: entry for entry in summary["files"]}

    def records(self, feed: str, name: str | None = None) -> list[tuple[int, dict]]:
        """(row number, {header: value}) with header = row 1."""
        name = name or MAIN_FILE[feed]
        header, *rows = read_table(self.out / feed / name, ENCODING.get(feed))
        return [(number, dict(zip(header, row, strict=False))) for number, row in enumerate(rows, start=2)]

    def bad_rows(self, name: str) -> set[int]:
        return set(self.entries[name]["bad_row_numbers"])

    def good_records(self, feed: str) -> list[dict]:
        bad = self.bad_rows(MAIN_FILE[feed])
        return [row for number, row in self.records(feed) if number not in bad]

    def valid_entities(self) -> dict[str, dict]:
        return {trim(row["统一社会信用代码"]): row for row in self.good_records("entity_register")}


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Landing:
    out = tmp_path_factory.mktemp("landing")
    calls: list = []
    summary = generate(
        "sample", SEED, out, progress=lambda feed, done, total: calls.append((feed, done, total))
    )
    return Landing(out, summary, calls)


# --------------------------------------------------------------------------- files


def test_every_feed_folder_holds_its_files(landing):
    assert sorted(p.name for p in landing.out.iterdir()) == sorted([*FILES, MANIFEST_NAME])
    for feed, names in FILES.items():
        assert {p.name for p in (landing.out / feed).iterdir()} == names, feed


def test_encodings_are_what_departments_send(landing):
    register = (landing.out / "entity_register" / MAIN_FILE["entity_register"]).read_bytes()
    assert register.startswith(b"\xef\xbb\xbf")
    for feed in ("tax_credit", "penalty"):
        raw = (landing.out / feed / MAIN_FILE[feed]).read_bytes()
        raw.decode("gb18030")
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
    parking = (landing.out / "parking" / MAIN_FILE["parking"]).read_bytes()
    assert not parking.startswith(b"\xef\xbb\xbf") and b"\r" not in parking
    parking.decode("utf-8")
    repair = (landing.out / "credit_repair" / MAIN_FILE["credit_repair"]).read_bytes()
    assert not repair.startswith(b"\xef\xbb\xbf")
    assert repair.count(b"\n") == repair.count(b"\r\n") > 1
    for feed in ("rural_cooperative", "credit_household"):
        assert (landing.out / feed / MAIN_FILE[feed]).read_bytes().startswith(b"PK\x03\x04")


def test_headers_are_the_contract_headers(landing):
    for feed, header in HEADERS.items():
        first_row = read_table(landing.out / feed / MAIN_FILE[feed], ENCODING.get(feed))[0]
        assert list(first_row) == header, feed
    assert read_table(landing.out / "parking" / "parking_20261121.csv", "utf-8")[0] == HEADERS["parking"]


def test_xlsx_codes_are_text_cells_and_household_year_a_number(landing):
    for feed, code_column in (("rural_cooperative", 0), ("credit_household", 1)):
        sheet = openpyxl.load_workbook(landing.out / feed / MAIN_FILE[feed]).worksheets[0]
        rows = list(sheet.iter_rows(min_row=2))
        assert rows
        assert all(row[code_column].data_type == "s" for row in rows), feed
        year_cells = {row[11].data_type for row in rows}
        assert year_cells == ({"n"} if feed == "credit_household" else {"s"}), feed


def test_duplicate_is_byte_identical_and_upload_in_progress_is_cut(landing):
    folder = landing.out / "tax_credit"
    assert (folder / "tax_credit_20261120_2.csv").read_bytes() == (
        folder / "tax_credit_20261120.csv"
    ).read_bytes()
    assert landing.entries["tax_credit_20261120_2.csv"]["duplicate_of"] == "tax_credit_20261120.csv"
    partial = (landing.out / "parking" / "parking_20261122.csv.part").read_bytes()
    assert partial.startswith("停车记录编号".encode()) and not partial.endswith(b"\n")
    assert landing.entries["parking_20261122.csv.part"]["kind"] == "partial"


# ------------------------------------------------------------------------ identifiers

USCC_COLUMNS = {
    "entity_register": ["统一社会信用代码"],
    "tax_credit": ["统一社会信用代码"],
    "penalty": ["统一社会信用代码", "处罚机关统一社会信用代码", "数据来源单位统一社会信用代码"],
    "rural_cooperative": ["统一社会信用代码"],
    "credit_repair": ["处罚机关统一社会信用代码"],
}


def test_every_uscc_passes_its_check_unless_deliberately_bad(landing):
    failing_seen = 0
    for feed, columns in USCC_COLUMNS.items():
        bad = landing.bad_rows(MAIN_FILE[feed])
        for number, row in landing.records(feed):
            for column in columns:
                code = trim(row[column])
                if feed == "penalty" and column == "统一社会信用代码" and row["行政相对人类别"] == "自然人":
                    assert code == ""
                    continue
                if number in bad and feed != "penalty":
                    assert not uscc_ok(code), (feed, number, code)
                    failing_seen += 1
                else:
                    assert uscc_ok(code), (feed, number, column, code)
    for _, row in landing.records("parking"):
        if row["车主类型"] == "单位":
            assert uscc_ok(row["车主证件号码"])
    assert failing_seen >= 3  # a mistyped register code and both Excel manglings


def test_excel_mangled_codes_in_tax_credit_take_both_forms(landing):
    entry = landing.entries[MAIN_FILE["tax_credit"]]
    rows = dict(landing.records("tax_credit"))
    scientific = [rows[n]["统一社会信用代码"] for n in entry["bad_rows_by_reason"]["uscc_excel_scientific"]]
    truncated = [rows[n]["统一社会信用代码"] for n in entry["bad_rows_by_reason"]["uscc_excel_truncated"]]
    assert scientific and all(re.fullmatch(r"9\.\d{5}E\+17", code) for code in scientific)
    assert truncated and all(re.fullmatch(r"\d{15}000", code) for code in truncated)


def assert_person_id(ric: str) -> None:
    assert ric_ok(ric), ric
    assert ric.startswith("5001"), ric
    assert 1950 <= birth_date(ric).year <= 2005, ric


def test_every_id_number_passes_its_check_unless_deliberately_bad(landing):
    bad = landing.bad_rows(MAIN_FILE["penalty"])
    assert bad
    for number, row in landing.records("penalty"):
        if row["行政相对人类别"] != "自然人":
            assert row["证件号码"] == ""
        elif number in bad:
            assert row["证件类型"] == "身份证" and not ric_ok(row["证件号码"])
        else:
            assert_person_id(row["证件号码"])
    for name in ("parking_20261120.csv", "parking_20261121.csv"):
        for _, row in landing.records("parking", name):
            if row["车主类型"] == "个人":
                assert_person_id(row["车主证件号码"])
    households = landing.records("credit_household")
    for _, row in households:
        assert_person_id(trim(row["身份证号码"]))
    assert len({trim(row["身份证号码"]) for _, row in households}) == len(households)
    assert any(trim(row["身份证号码"])[:6] == "500115" for _, row in households)


# ------------------------------------------------------------------------ cross-feed


def test_feeds_point_at_entities_that_exist(landing):
    entities = landing.valid_entities()
    for row in landing.good_records("tax_credit"):
        assert trim(entities[trim(row["统一社会信用代码"])]["主体名称"]) == trim(row["纳税人名称"])
    for row in landing.good_records("penalty"):
        if row["行政相对人类别"] != "自然人":
            entity = entities[row["统一社会信用代码"]]
            assert trim(entity["主体名称"]) == trim(row["行政相对人名称"])
            is_individual_business = entity["主体类型"] == "个体工商户"
            assert is_individual_business == (row["行政相对人类别"] == "个体工商户")
    for _, row in landing.records("parking"):
        if row["车主类型"] == "单位":
            assert row["车主证件号码"] in entities
    cooperatives = landing.good_records("rural_cooperative")
    assert cooperatives
    for row in cooperatives:
        code = trim(row["统一社会信用代码"])
        assert entities[code]["主体类型"] == "农民专业合作社"
        assert code.startswith(("93", "N"))
    assert any(trim(row["统一社会信用代码"]).startswith("N") for row in cooperatives)


def test_repairs_repair_real_penalties_after_their_minimum_publicity(landing):
    penalties = {
        (row["行政处罚决定书文号"], row["处罚机关统一社会信用代码"]): row
        for row in landing.good_records("penalty")
    }
    repairs = landing.good_records("credit_repair")
    assert len(repairs) >= 5
    for repair in repairs:
        penalty = penalties[(repair["行政处罚决定书文号"], repair["处罚机关统一社会信用代码"])]
        decided = parse_date(penalty["处罚决定日期"])
        minimum_months = 12 if penalty["失信程度"] == "严重" else 3
        repaired = parse_date(repair["修复决定日期"])
        assert add_months(decided, minimum_months) < repaired <= AS_OF


def test_commitments_name_real_subjects_and_acceptors_and_the_next_day_updates_them(landing):
    entities = landing.valid_entities()
    acceptors = {d.uscc: d.name for d in departments.recipients()}
    bad = landing.bad_rows(MAIN_FILE["commitment"])
    assert bad
    first = {}
    for number, row in landing.records("commitment"):
        committed = parse_date(row["承诺日期"])
        due = parse_date(row["履约期限"]) if row["履约期限"] else None
        assert (number in bad) == (due is not None and due < committed), number
        assert (due is None) == (row["承诺类型"] in ("主动型", "行业自律型", "信用修复型")), number
        if row["承诺主体类别"] == "自然人":
            assert row["统一社会信用代码"] == ""
            assert_person_id(row["证件号码"])
        else:
            entity = entities[row["统一社会信用代码"]]
            assert trim(entity["主体名称"]) == trim(row["承诺主体名称"]) and row["证件号码"] == ""
        assert acceptors[row["受理单位统一社会信用代码"]] == row["受理单位"]  # every list has a recipient
        assert (row["核查日期"] == "") == (row["履约状态"] == "履约中"), number
        first[row["承诺编号"]] = row
    assert {row["承诺类型"] for row in first.values()} == {
        "审批替代型",
        "容缺受理型",
        "主动型",
        "行业自律型",
        "信用修复型",
    }
    header, *rows = read_table(landing.out / "commitment" / "commitment_20261121.csv", "gb18030")
    updates = [dict(zip(header, row, strict=False)) for row in rows]
    assert len(updates) == SCALES["sample"]["commitment_updates"]
    for row in updates:
        assert first[row["承诺编号"]]["履约状态"] == "履约中" and row["履约状态"] in ("已履约", "未履约")
        assert row["核查日期"] == "2026-11-21"


def test_loan_outcomes_name_active_borrowers_and_lenders_and_the_next_day_decides(landing):
    entities = landing.valid_entities()
    bad = landing.bad_rows(MAIN_FILE["loan_outcome"])
    assert bad
    first = {}
    for number, row in landing.records("loan_outcome"):
        entity = entities[row["统一社会信用代码"]]
        assert trim(entity["主体名称"]) == trim(row["主体名称"]) and trim(entity["登记状态"]) in (
            "存续",
            "在业",
        )
        assert uscc_ok(row["金融机构统一社会信用代码"])
        granted = parse_amount(row["授信金额（万元）"]) if row["授信金额（万元）"] else None
        lent = parse_amount(row["放款金额（万元）"]) if row["放款金额（万元）"] else 0
        assert (number in bad) == (lent > (granted or 0)), number
        assert (granted is not None) == (row["授信结果"] == "通过"), number
        if lent:
            assert parse_date(row["申请日期"]) <= parse_date(row["放款日期"]) <= AS_OF
        assert (row["未通过原因"] != "") == (row["授信结果"] == "未通过"), number
        first[row["申请编号"]] = row
    assert {row["授信结果"] for row in first.values()} == {"审批中", "通过", "未通过"}
    updates = [row for _, row in landing.records("loan_outcome", "loan_outcome_20261121.csv")]
    assert len(updates) == SCALES["sample"]["loan_updates"]
    for row in updates:
        assert first[row["申请编号"]]["授信结果"] == "审批中" and row["授信结果"] in ("通过", "未通过")
        assert row["数据日期"] == "2026-11-21"


def test_next_parking_file_settles_arrears_of_the_first(landing):
    first = {row["停车记录编号"]: row for _, row in landing.records("parking")}
    second = [row for _, row in landing.records("parking", "parking_20261121.csv")]
    settled = [row for row in second if first[row["停车记录编号"]]["缴费状态"] == "欠费"]
    assert settled
    for row in settled:
        assert row["缴费状态"] == "催缴后补缴" and row["已缴金额（元）"] == row["应缴金额（元）"]
        assert int(row["催缴次数"]) > int(first[row["停车记录编号"]]["催缴次数"])
    assert all(row["停车记录编号"] in first for row in second)


# -------------------------------------------------------------------- values, quirks


def test_penalties_are_plausible_and_carry_the_real_file_quirks(landing):
    records = landing.records("penalty")
    formats = set()
    for _, row in records:
        decided, valid_until = parse_date(row["处罚决定日期"]), parse_date(row["处罚有效期"])
        assert AS_OF - datetime.timedelta(days=4 * 366) <= decided <= AS_OF
        assert valid_until >= decided
        if "罚款" in row["处罚类别"]:
            assert parse_amount(row["罚款金额（万元）"]) > 0
        text = row["处罚决定日期"]
        formats.add("年" if "年" in text else "/" if "/" in text else "-" if "-" in text else "compact")
    assert formats == {"年", "/", "-", "compact"}
    assert any("\n" in row["违法事实"] for _, row in records)
    assert any(any(d in row["罚款金额（万元）"] for d in FULLWIDTH_DIGITS) for _, row in records)
    assert any(row["行政相对人名称"] != trim(row["行政相对人名称"]) for _, row in records)
    levels = [row["失信程度"] for _, row in records]
    assert levels.count("") > levels.count("严重") and "一般" in levels


def test_amounts_have_fullwidth_digits_and_thousands_separators(landing):
    arrears = [row["欠税余额（元）"] for _, row in landing.records("tax_credit")]
    assert any("," in value for value in arrears)
    assert any(any(d in value for d in FULLWIDTH_DIGITS) for value in arrears)
    assert all(parse_amount(value) >= 0 for value in arrears if value)
    assert any("," in row["注册资本（万元）"] for _, row in landing.records("entity_register"))


def test_names_and_codes_come_padded_with_spaces(landing):
    padded = [
        value
        for feed in ("entity_register", "tax_credit", "credit_household")
        for _, row in landing.records(feed)
        for value in row.values()
        if isinstance(value, str) and value != trim(value)
    ]
    assert any("\u3000" in value for value in padded) and any(value.endswith(" ") for value in padded)


def test_credit_mix_gives_a_scoring_something_to_do(landing):
    statuses = [row["登记状态"] for row in landing.good_records("entity_register")]
    assert sum(s in ("存续", "在业") for s in statuses) > 0.8 * len(statuses)
    assert {"吊销", "注销"} <= set(statuses)
    grades = [row["纳税信用等级"] for row in landing.good_records("tax_credit")]
    assert set(grades) == set("ABMCD") and grades.count("D") < 0.1 * len(grades)
    assert "是" in {row["重大税收违法失信主体"] for row in landing.good_records("tax_credit")}

    parking = [row for _, row in landing.records("parking")]
    assert {row["缴费状态"] for row in parking} == {"已缴", "欠费", "催缴后补缴"}
    assert sum(row["缴费状态"] == "已缴" for row in parking) > 0.8 * len(parking)
    assert any(row["离场时间"] == "" for row in parking)
    for row in parking:
        assert row["离场时间"] == "" or row["离场时间"] >= row["入场时间"]
        assert re.fullmatch(r"渝[A-Z][A-Z0-9]{5,6}", row["车牌号"])

    villages: dict[tuple, list[bool]] = {}
    for _, row in landing.records("credit_household"):
        good = row["村委会评价"] in ("优", "良") and row["贷款逾期次数"] == 0
        villages.setdefault((row["所属镇街"], row["所属村"]), []).append(good)
    shares = [sum(flags) / len(flags) for flags in villages.values()]
    assert 10 <= len(villages) <= 14
    assert any(share >= 0.7 for share in shares) and any(share < 0.7 for share in shares)


def test_bad_rows_stay_well_under_the_quarantine_threshold(landing):
    for entry in landing.summary["files"]:
        if entry["kind"] == "data" and entry["rows"]:
            assert entry["bad_rows"] < 0.05 * entry["rows"], entry["file"]
    for name in (MAIN_FILE["entity_register"], MAIN_FILE["tax_credit"], MAIN_FILE["penalty"]):
        assert landing.entries[name]["bad_rows"] >= 1


# ------------------------------------------------------------------------- manifest


def test_manifest_counts_match_the_files(landing):
    on_disk = json.loads((landing.out / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert on_disk == landing.summary
    assert (on_disk["scale"], on_disk["seed"], on_disk["as_of"]) == ("sample", SEED, "2026-11-20")
    for entry in on_disk["files"]:
        if entry["kind"] == "partial":
            continue
        # each file in the encoding the manifest says it was written in (a feed's files may differ)
        rows = read_table(landing.out / entry["feed"] / entry["file"], entry["encoding"])
        assert entry["rows"] == len(rows) - 1, entry["file"]
        assert entry["bad_rows"] == len(entry["bad_row_numbers"])
        assert all(2 <= n <= len(rows) for n in entry["bad_row_numbers"])
    entities = landing.valid_entities()
    assert on_disk["expected_entities"] == len(entities)
    by_type: dict[str, int] = {}
    for row in entities.values():
        by_type[row["主体类型"]] = by_type.get(row["主体类型"], 0) + 1
    assert on_disk["entities_by_type"] == by_type
    assert by_type["农民专业合作社"] == SCALES["sample"]["cooperatives"]


def test_progress_is_reported_for_every_feed(landing):
    finished = {(feed, done) for feed, done, total in landing.progress_calls if done == total}
    assert {feed for feed, _ in finished} == set(FILES)
    assert ("parking", SCALES["sample"]["parking_records"]) in finished


# ---------------------------------------------------------------------- determinism


def all_bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_same_seed_gives_the_same_bytes_and_another_seed_other_data(landing, tmp_path):
    again = generate("sample", SEED, tmp_path / "again")
    assert again == landing.summary
    assert all_bytes(tmp_path / "again") == all_bytes(landing.out)
    generate("sample", SEED + 1, tmp_path / "other")
    for feed in ("entity_register", "tax_credit", "penalty", "parking", "credit_household"):
        path = Path(feed) / MAIN_FILE[feed]
        assert (tmp_path / "other" / path).read_bytes() != (landing.out / path).read_bytes(), feed


def test_broken_header_option_adds_a_register_file_without_the_key_header(landing, tmp_path):
    summary = generate("sample", SEED, tmp_path, broken_header=True)
    broken = tmp_path / "entity_register" / "entity_register_20261120_2.csv"
    header, *rows = read_table(broken, "utf-8-sig")
    assert "社会信用代码" in header and "统一社会信用代码" not in header
    entry = {e["file"]: e for e in summary["files"]}[broken.name]
    assert entry["kind"] == "broken_header" and entry["bad_rows"] == len(rows) > 0
    assert summary["expected_entities"] == landing.summary["expected_entities"]
    main = Path("entity_register") / MAIN_FILE["entity_register"]
    assert (tmp_path / main).read_bytes() == (landing.out / main).read_bytes()


def test_unknown_scale_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown scale"):
        generate("county", 1, tmp_path)


# ------------------------------------------------------------------------ contracts


@pytest.fixture
def contracts_from(tmp_path, monkeypatch):
    """Contracts from an edited copy of connectors/: edit(specs) changes the parsed YAML by feed."""

    def use(edit) -> dict:
        specs = {
            p.stem: yaml.safe_load(p.read_text(encoding="utf-8"))
            for p in contracts.CONTRACTS_DIR.glob("*.yml")
        }
        edit(specs)
        folder = tmp_path / "connectors"
        folder.mkdir()
        for feed, spec in specs.items():
            (folder / f"{feed}.yml").write_text(
                yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8"
            )
        loaded = contracts.load_all(folder)
        monkeypatch.setattr(contracts, "load_all", lambda directory=None: loaded)
        monkeypatch.setattr(contracts, "load", lambda feed: loaded[feed])
        return loaded

    return use


def test_every_generator_module_is_generated_in_order():
    assert {module.name for module in pkgutil.iter_modules(feeds.__path__)} == set(feeds.ORDER)


def test_a_contract_without_a_generator_is_not_generated_and_changes_nothing(
    landing, contracts_from, tmp_path
):
    def add_ninth(specs):
        specs["ninth_feed"] = {
            "feed": "ninth_feed",
            "title": "第九个数据源",
            "cadence_days": 31,
            "reject_threshold": 0.1,
            "key": ["uscc"],
            "columns": [
                {"name": "uscc", "header": "统一社会信用代码", "type": "uscc", "required": True},
                {"name": "note", "header": "备注", "type": "text"},
            ],
        }

    contracts_from(add_ninth)
    summary = generate("sample", SEED, tmp_path / "out")
    assert summary["feeds_not_generated"] == ["ninth_feed"]
    assert not (tmp_path / "out" / "ninth_feed").exists()
    assert {e["file"] for e in summary["files"]} == set(landing.entries)
    for name, content in all_bytes(landing.out).items():
        if name != MANIFEST_NAME:
            assert (tmp_path / "out" / name).read_bytes() == content, name


def test_a_contract_column_the_generator_does_not_fill_stops_it(contracts_from, tmp_path):
    contracts_from(
        lambda specs: specs["entity_register"]["columns"].append(
            {"name": "phone", "header": "联系电话", "type": "text"}
        )
    )
    with pytest.raises(ValueError, match="entity_register.*phone"):
        generate("sample", SEED, tmp_path)


def test_a_generator_without_a_contract_is_an_error(contracts_from, tmp_path):
    contracts_from(lambda specs: specs.pop("credit_repair"))
    with pytest.raises(ValueError, match="without a contract.*credit_repair"):
        generate("sample", SEED, tmp_path)


def test_broken_header_is_refused_when_the_contract_accepts_it(contracts_from, tmp_path):
    def accept_short_header(specs):
        uscc = next(c for c in specs["entity_register"]["columns"] if c["name"] == "uscc")
        uscc["aliases"] = ["社会信用代码"]

    contracts_from(accept_short_header)
    with pytest.raises(ValueError, match="accepted header"):
        generate("sample", SEED, tmp_path, broken_header=True)


# ------------------------------------------------------------------ second-stage lists


def test_domain_ratings_use_the_contract_domains_and_mapped_scales(landing):
    domains = set(contracts.load("domain_rating").column("domain").values)
    classes = REPO / "dbt_project" / "seeds" / "domain_grade_classes.csv"
    with classes.open(encoding="utf-8", newline="") as fh:
        mapped = {(row["scale"], row["grade"]) for row in csv.DictReader(fh)}
    bad = landing.bad_rows(MAIN_FILE["domain_rating"])
    records = landing.records("domain_rating")
    assert bad and len({row["监管领域"] for _, row in records} - {"城市管理"}) >= 10
    for number, row in records:
        assert (row["监管领域"] in domains) == (number not in bad), number
        assert (row["评价等级体系"], row["评价等级"]) in mapped, number
        assert uscc_ok(row["统一社会信用代码"]) and uscc_ok(row["评价部门统一社会信用代码"])


def test_court_cases_name_registered_subjects_government_bodies_and_persons(landing):
    register = {row["统一社会信用代码"] for row in landing.good_records("entity_register")}
    records = landing.records("court_dishonest")
    assert 30 <= len(records) <= 300
    bodies = [row for _, row in records if row["统一社会信用代码"].startswith("11")]
    assert len(bodies) == 1 and bodies[0]["被执行人名称"].endswith("人民政府")
    old = [row["组织机构代码"] for _, row in records if row["组织机构代码"]]
    assert old and all(len(code) == 9 and any(u[8:17] == code for u in register) for code in old)
    persons = [row for _, row in records if row["被执行人类别"] == "自然人"]
    assert persons and all(ric_ok(row["证件号码"]) and not row["统一社会信用代码"] for row in persons)
    bad = landing.bad_rows(MAIN_FILE["court_dishonest"])
    for number, row in records:
        assert (row["发布日期"] < row["立案日期"]) == (number in bad), number


def test_exchange_entries_mix_subjects_of_the_district_and_of_the_partners(landing):
    register = {row["统一社会信用代码"] for row in landing.good_records("entity_register")}
    records = [row for _, row in landing.records("list_exchange")]
    here = [row for row in records if row["统一社会信用代码"] in register]
    assert records and 0 < len(here) < len(records)
    assert {row["名单类型"] for row in records} <= {"红名单", "黑名单"}
    assert all(uscc_ok(row["统一社会信用代码"]) for row in records)


# ------------------------------------------------------------------------- the city


def test_city_scale_is_the_district_grown_to_three_and_a_half_million_entities():
    city, district = SCALES["city"], SCALES["district"]
    kinds = (
        "enterprises",
        "individual_businesses",
        "cooperatives",
        "social_organizations",
        "public_institutions",
    )
    valid = sum(city[k] for k in kinds) * (1 - 0.002)  # synthetic.world.BAD_REGISTER_SHARE
    assert abs(valid - 3_500_000) < 10
    factor = city["enterprises"] / district["enterprises"]
    for count in ("penalties", "households", "commitments", "court_cases", "loan_applications", "car_owners"):
        assert city[count] == pytest.approx(district[count] * factor, rel=0.001), count
    assert city["parking_records"] // city["parking_days"] == 1_000_000 and city["parking_days"] == 30


@pytest.fixture(scope="module")
def small_city(tmp_path_factory, monkeypatch_module):
    """A city of 3,500 entities: the city's shape (daily parking files, a daily delta) at a
    thousandth of its size; workbooks cut at 1,000 rows so the households need several."""
    from synthetic import scales, writers

    monkeypatch_module.setitem(scales.SCALES, "small-city", scales._scaled(3_500))
    monkeypatch_module.setattr(writers, "XLSX_MAX_DATA_ROWS", 1_000)
    out = tmp_path_factory.mktemp("city")
    return out, generate("small-city", SEED, out)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_city_parking_comes_as_daily_files_each_a_day_of_new_records_and_updates(small_city):
    out, summary = small_city
    files = sorted(f["file"] for f in summary["files"] if f["feed"] == "parking")
    delta = [f for f in summary["daily_delta"]["files"] if f["feed"] == "parking"]
    assert len(files) == 30 and files[-1] == "parking_20261120.csv"
    assert [f["file"] for f in delta] == ["parking_20261121.csv"]
    seen: dict[str, dict] = {}
    for name in files + ["../.daily_delta/parking/parking_20261121.csv"]:
        header, *rows = read_table(out / "parking" / name, "utf-8")
        records = [dict(zip(header, row, strict=False)) for row in rows]
        assert len(records) == 1_000
        day = name[-12:-4]
        updates = [r for r in records if not r["停车记录编号"].startswith(f"BSP{day}")]
        for row in updates:  # a state change of an earlier day's record: arrears paid, a car gone
            earlier = seen[row["停车记录编号"]]
            assert earlier["缴费状态"] == "欠费" or earlier["离场时间"] == ""
            assert row["已缴金额（元）"] == row["应缴金额（元）"] and row["离场时间"]
        assert name == files[0] or updates
        seen.update((r["停车记录编号"], r) for r in records)


def test_city_daily_delta_is_kept_apart_and_households_split_at_the_worksheet_limit(small_city):
    out, summary = small_city
    delta = summary["daily_delta"]
    assert delta["day"] == "2026-11-21" and delta["folder"] == ".daily_delta"
    assert {f["feed"] for f in delta["files"]} == {"parking", "commitment", "loan_outcome"}
    for entry in delta["files"]:
        assert (out / ".daily_delta" / entry["feed"] / entry["file"]).is_file()
        assert not (out / entry["feed"] / entry["file"]).exists()
    assert all(
        not f["file"].startswith(("parking_20261121", "commitment_20261121")) for f in summary["files"]
    )
    books = [f for f in summary["files"] if f["feed"] == "credit_household"]
    assert [f["file"] for f in books][:2] == [
        "credit_household_20261120.xlsx",
        "credit_household_20261120_2.xlsx",
    ]
    assert len(books) >= 4 and all(f["rows"] <= 1_000 for f in books)
    households = sum(len(read_table(out / "credit_household" / f["file"], None)) - 1 for f in books)
    assert households == sum(f["rows"] for f in books) == SCALES["small-city"]["households"]


def test_a_big_export_is_cut_into_files_within_the_contract_limits(tmp_path):
    """A city's register or tax export holds millions of rows: written as parts (_2, _3...)
    each within the contract's max_rows, with the manifest's row numbers counted per part."""
    from synthetic.manifest import FileReport
    from synthetic.writers import Layout, write_csv_parts

    layout = Layout("court_dishonest")
    small = layout.contract.limits.model_copy(update={"max_rows": 40})
    layout.contract = layout.contract.model_copy(update={"limits": small})
    row = {name: "x" for name in layout.names}
    parts = write_csv_parts(tmp_path, "court_dishonest", AS_OF, layout, [row] * 100, "utf-8")
    assert parts == [
        ("court_dishonest_20261120.csv", 40),
        ("court_dishonest_20261120_2.csv", 40),
        ("court_dishonest_20261120_3.csv", 20),
    ]
    for name, rows in parts:
        assert len(read_table(tmp_path / name, "utf-8")) == rows + 1
    whole = FileReport("court_dishonest", parts[0][0], "data", "utf-8", "CRLF")
    for index in (0, 39, 40, 99):
        whole.mark_bad(index, "bad")
    whole.mark_quirk(41, "quirk")
    split = whole.split(parts)
    assert [sorted(p.bad) for p in split] == [[2, 41], [2], [21]]
    assert [p.quirks for p in split] == [{}, {"quirk": [3]}, {}]


def test_a_city_of_cars_gets_lettered_plates_the_contract_accepts():
    """A city's 2.6 M cars outgrow the 1.2 M five-digit plates: drawing them must neither
    loop for ever nor break the parking contract's plate check."""
    import random
    import re

    from synthetic.codes import Uniques
    from synthetic.feeds.parking import DIGIT_PLATES, _plates

    count = DIGIT_PLATES // 4 + 1
    plates = _plates(random.Random(1), count, Uniques())
    contract_check = re.compile(r"^[\u4e00-\u9fa5][A-Z][A-Z0-9]{5,6}$")  # connectors/parking.yml
    assert len(set(plates)) == count
    assert all(contract_check.match(p) for p in plates)
    assert any(not p[-5:].isdigit() for p in plates)
