import codecs

import openpyxl

from tests.conftest import SAMPLES
from xinyong.ingest.readers import CopyStream, TableFile, detect_encoding


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
