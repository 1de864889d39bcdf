import codecs
import datetime as dt

import openpyxl
import pytest

from tests.conftest import SAMPLES
from xinyong.ingest.contracts import Limits
from xinyong.ingest.readers import CopyStream, TableFile, UnreadableFile, detect_encoding


def test_encodings_are_told_apart_by_the_bytes(tmp_path):
    text = "统一社会信用代码,主体名称\n91500115EGC964D31Y,重庆德润\n"
    (tmp_path / "bom.csv").write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    (tmp_path / "utf8.csv").write_bytes(text.encode("utf-8"))
    (tmp_path / "gb.csv").write_bytes(text.encode("gb18030"))
    assert detect_encoding(tmp_path / "bom.csv") == "utf-8-sig"
    assert detect_encoding(tmp_path / "utf8.csv") == "utf-8"
    assert detect_encoding(tmp_path / "gb.csv") == "gb18030"


def test_samples_encodings():
    assert detect_encoding(SAMPLES / "entity_register_20261120.csv") == "utf-8-sig"
    assert detect_encoding(SAMPLES / "tax_credit_20261120.csv") == "gb18030"
    assert detect_encoding(SAMPLES / "penalty_20261120.csv") == "gb18030"


def test_quoted_line_break_is_one_record_numbered_as_in_the_file():
    rows = list(TableFile(SAMPLES / "penalty_20261120.csv").rows(set()))
    header, records = rows[0], rows[1:]
    assert header[0] == "行政相对人名称"
    numbers = [r.number for r in records]
    assert numbers == list(range(2, 2 + len(records)))
    natural = [r for r in records if r.cells[1] == "自然人"]
    assert "\n" in natural[0].cells[8] and natural[0].number == 12


def test_numeric_cell_in_a_code_column_is_flagged_not_converted(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["统一社会信用代码", "评定年度"])
    sheet.append([915001152909934000, 2025])
    sheet.append(["935001156A27805D21", 2025])
    book.save(tmp_path / "x.xlsx")
    rows = list(TableFile(tmp_path / "x.xlsx").rows(code_positions={0}))
    assert rows[1].numeric_code_cells == [0]
    assert rows[2].numeric_code_cells == []
    assert rows[1].cells[1] == "2025"  # a number cell in a non-code column is fine


def test_copy_stream_delivers_all_bytes_in_small_reads():
    stream = CopyStream(iter(["甲,1\n", "乙,2\n" * 1000]))
    data = b""
    while chunk := stream.read(7):
        data += chunk
    assert data.decode() == "甲,1\n" + "乙,2\n" * 1000


def test_xlsx_cells_read_as_a_clerk_sees_them(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["统一社会信用代码", 2025, "日期", "时间", "是否", "金额", "公式"])
    sheet.append(
        [915001152909934000, 2025, dt.date(2026, 3, 5), dt.datetime(2026, 3, 5, 12, 30), True, 1.5, "=1+1"]
    )
    sheet.append([])  # a blank row: skipped, the next keeps its sheet row number
    sheet.append(["935001156A27805D21", 2025.0, dt.datetime(2026, 3, 5), None, False, -0.0, None])
    book.save(tmp_path / "x.xlsx")
    header, *rows = TableFile(tmp_path / "x.xlsx").rows(code_positions={0, 1})
    assert header == ["统一社会信用代码", "2025", "日期", "时间", "是否", "金额", "公式"]
    assert [(r.number, r.cells, r.numeric_code_cells) for r in rows] == [
        (2, ["915001152909933952", "2025", "2026-03-05", "2026-03-05 12:30:00", "是", "1.5", ""], [0, 1]),
        (4, ["935001156A27805D21", "2025", "2026-03-05", "", "否", "0", ""], [1]),
    ]


def test_xlsx_sheet_past_max_rows_or_sparse_is_refused_before_calamine_holds_it(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["统一社会信用代码", "主体名称"])
    sheet.cell(row=12, column=1, value="x")
    book.save(tmp_path / "long.xlsx")
    with pytest.raises(UnreadableFile, match="行的上限"):
        list(TableFile(tmp_path / "long.xlsx", Limits(max_rows=10)).rows(set()))
    sheet.cell(row=12, column=1, value=None)
    sheet.cell(row=1_000_000, column=16_384, value="远处")  # a grid of 16 billion cells
    book.save(tmp_path / "sparse.xlsx")
    with pytest.raises(UnreadableFile, match="远超其内容"):
        list(TableFile(tmp_path / "sparse.xlsx").rows(set()))
