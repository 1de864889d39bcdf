"""Which CSV files go straight to COPY, and what the row-by-row path sends instead."""

import codecs

import pytest

from xinyong.ingest import contracts, loader, readers
from xinyong.ingest.readers import Row, copy_safe, map_header


@pytest.mark.parametrize(
    "text,safe",
    [
        ("h1,h2\n1,2\n3,4\n", True),
        ('h1,h2\r\n"a\r\nb","say ""hi"""\r\n', True),  # quoted line break, doubled quotes
        ("h1,h2\n1,2\n\n3,4\n", False),  # blank line: Python skips it, COPY refuses it
        ("h1,h2\n1,2\n,\n", False),  # a line of empty cells is not a record either
        ("h1,h2\n1,2\n , ", False),  # ... nor a last line of blanks without a line end
        ('h1,h2\n1,a"b\n', False),  # stray quote: COPY would open a quoted section
    ],
)
def test_copy_safe(tmp_path, text, safe):
    path = tmp_path / "f.csv"
    path.write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    assert copy_safe(path, "utf-8-sig") is safe


def test_copy_safe_sees_a_blank_line_across_the_chunk_border(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "CHUNK", 8)
    path = tmp_path / "f.csv"
    path.write_bytes(b"h1,h2\n1234,567\n,,,,\n8,9\n")
    assert copy_safe(path, "utf-8") is False
    path.write_bytes(b"h1,h2\n1234,567\n8,9\n")
    assert copy_safe(path, "utf-8") is True


def test_other_encodings_are_not_handed_to_copy(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"h1,h2\n1,2\n")
    assert copy_safe(path, "latin-1") is False


def test_row_by_row_lines_are_padded_to_the_header_and_flag_numeric_code_cells():
    contract = contracts.load("credit_repair")
    header = [c.header for c in contract.columns]
    header_map = map_header(contract, header)
    width = len(header)
    rows = [Row(2, ["a", "b"]), Row(3, ["x"] * (width + 2), numeric_code_cells=[1])]
    counter = [0]
    text = "".join(loader._copy_lines(iter(rows), header_map, width, counter))
    lines = text.splitlines()
    assert counter == [2]
    assert lines[0] == "2,," + ",".join(["a", "b"] + [""] * (width - 2))
    assert lines[1] == f'3,",{contract.columns[1].name},",' + ",".join(["x"] * width)
