"""Read department files as rows of text, whatever Excel or a clerk did to them.

CSV encoding is told apart by the bytes: a UTF-8 BOM, else valid UTF-8, else GB18030
(a superset of GBK, what Windows Excel writes). XLSX is read from its first sheet in
streaming mode. Rows are yielded one at a time so memory stays bounded for any size.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from xinyong.ingest.contracts import Contract, Limits, normalise_header

CHUNK = 1 << 20  # bytes read at a time; Limits.max_line_bytes is never less (see detect_encoding)
DEFAULT_LIMITS = Limits()


class UnreadableFile(ValueError):
    """The file cannot be read as a table at all (wrong format, broken encoding)."""


@dataclass
class HeaderMap:
    positions: dict[str, int]  # contract column -> position in the file
    missing_required: list[str] = field(default_factory=list)  # contract headers
    missing_optional: list[str] = field(default_factory=list)
    extra: dict[str, int] = field(default_factory=dict)  # unknown header -> position


def _utf8(data) -> bool:
    """Whether `data` (bytes or a memoryview) is valid UTF-8: Arrow's validator, several
    times faster than decoding it."""
    import pyarrow as pa

    offsets = pa.py_buffer(struct.pack("<2q", 0, len(data)))
    try:
        pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)]).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def detect_encoding(path: Path, limits: Limits = DEFAULT_LIMITS) -> str:
    """UTF-8 with BOM, UTF-8, else GB18030, told in one pass over the bytes (1 MiB at a time,
    so memory stays bounded for any file) that also refuses what no reader should take on:
    a NUL byte (binary content, and PostgreSQL would refuse it mid-COPY), a line longer than
    any row within the feed's limits could be (a 100 MB file without a line break), and more
    lines than `max_rows` (counted as line breaks: a bound, not a tally of records)."""
    longest, max_lines = max(limits.max_line_bytes, CHUNK), limits.max_rows + 1
    with path.open("rb") as fh:
        head = fh.read(3)
        encoding = "utf-8-sig" if head == codecs.BOM_UTF8 else "utf-8"
        fh.seek(0)
        offset, lines, line_start = 0, 0, 0  # line_start: offset of the current line's first byte
        unchecked = b""  # bytes after the last line break not yet checked as UTF-8
        while chunk := fh.read(CHUNK):
            nul = chunk.find(b"\0")
            if nul >= 0:
                raise UnreadableFile(
                    f"文件第 {offset + nul + 1:,} 个字节是 NUL（二进制内容），不是文本 CSV；"
                    "请从 Excel 另存为 CSV 后重新上传"
                )
            # A line longer than a chunk spans chunks: only the distance from the last line
            # break before this chunk to the first one in it (or to its end) can exceed the
            # bound, which is never less than a chunk.
            first = chunk.find(b"\n")
            if (offset + (first if first >= 0 else len(chunk))) - line_start > longest:
                raise UnreadableFile(
                    f"第 {lines + 1:,} 行超过 {longest / 2**20:,.1f} MB 仍未换行，"
                    f"超出本数据类别的上限（{limits.max_columns} 列、每格 {limits.max_cell_chars} 字），未读取"
                )
            if first >= 0:
                lines += chunk.count(b"\n")
                line_start = offset + chunk.rfind(b"\n") + 1
                if lines > max_lines:
                    raise UnreadableFile(f"文件超过 {limits.max_rows:,} 行的上限，未读取；请拆分后重新上传")
            offset += len(chunk)
            if encoding != "gb18030":
                # Checked line by line (a line break never splits a character): the line the
                # last chunk left unfinished, then this chunk's whole lines.
                if first < 0:
                    unchecked += chunk
                else:
                    end = line_start - (offset - len(chunk))
                    view = memoryview(chunk)
                    if not (_utf8(unchecked + chunk[: first + 1]) and _utf8(view[first + 1 : end])):
                        encoding = "gb18030"  # go on reading: a NUL further on still refuses the file
                    unchecked = chunk[end:]
        if encoding != "gb18030" and unchecked and not _utf8(unchecked):
            encoding = "gb18030"
        return encoding


def cell_too_long(limits: Limits, row_number: int) -> UnreadableFile:
    """The refusal of a file with a cell past the feed's limit (every reader gives the same)."""
    return UnreadableFile(f"第 {row_number:,} 行有单元格超过 {limits.max_cell_chars:,} 字的上限，文件未加载")


def check_xlsx_size(path: Path, limit: int = DEFAULT_LIMITS.max_xlsx_expanded_bytes) -> None:
    """Refuse an XLSX whose parts expand past `limit` bytes before anything parses it (an
    XLSX is a zip archive: 2.6 MB can expand to a gigabyte of sheet XML)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnreadableFile(f"无法打开 Excel 文件（不是有效的 xlsx）：{str(exc)[:80]}") from None
    if expanded > limit:
        raise UnreadableFile(
            f"Excel 文件解压后约 {expanded / 1048576:,.0f} MB，超过 {limit / 1048576:,.0f} MB 的上限，"
            "未读取；请拆分后重新上传或改用 CSV"
        )


def map_header(contract: Contract, header: list) -> HeaderMap:
    wanted = {}
    for col in contract.columns:
        for variant in (col.header, *col.aliases):
            wanted[normalise_header(variant)] = col.name
    positions: dict[str, int] = {}
    extra: dict[str, int] = {}
    for i, raw in enumerate(header):
        if raw is None or str(raw).strip() == "":
            continue
        name = wanted.get(normalise_header(raw))
        if name and name not in positions:
            positions[name] = i
        else:
            extra[str(raw).strip()] = i
    hm = HeaderMap(positions=positions, extra=extra)
    for col in contract.columns:
        if col.name not in positions:
            (hm.missing_required if col.required else hm.missing_optional).append(col.header)
    return hm


@dataclass
class Row:
    number: int  # as in the file, header = row 1
    cells: list  # texts, positionally as in the file
    numeric_code_cells: list[int] = field(default_factory=list)  # positions of numbers in code columns


class TableFile:
    """A department file opened for reading: header first, then rows, within the feed's limits."""

    def __init__(self, path: Path, limits: Limits = DEFAULT_LIMITS):
        self.path = path
        self.limits = limits
        self.kind = path.suffix.lower().lstrip(".")
        if self.kind not in ("csv", "xlsx"):
            raise UnreadableFile(f"不支持的文件类型 .{self.kind}（应为 .csv 或 .xlsx）")
        if self.kind == "xlsx":
            check_xlsx_size(path, limits.max_xlsx_expanded_bytes)
        self.encoding = detect_encoding(path, limits) if self.kind == "csv" else "xlsx"

    def rows(self, code_positions: set[int]) -> Iterator[list | Row]:
        """First yields the header (a list), then Row objects."""
        if self.kind == "csv":
            yield from self._csv_rows()
        else:
            yield from self._xlsx_rows(code_positions)

    def _csv_rows(self):
        # The csv module's field limit is the whole process's: set for this file, put back after.
        previous = csv.field_size_limit(self.limits.max_cell_chars)
        reader = None
        try:
            with self.path.open("r", encoding=self.encoding, newline="") as fh:
                reader = csv.reader(fh)
                header = next(reader, None)
                if header is None:
                    raise UnreadableFile("文件为空")
                yield header
                for number, cells in enumerate(reader, start=2):
                    if not any(c.strip() for c in cells):
                        continue  # blank line: not a record
                    yield Row(number, cells)
        except UnicodeDecodeError as exc:
            raise UnreadableFile(f"无法识别的文字编码（应为 UTF-8 或 GB18030）：{exc.reason}") from None
        except csv.Error as exc:
            if "field limit" in str(exc):
                raise cell_too_long(self.limits, reader.line_num if reader else 1) from None
            raise UnreadableFile(f"CSV 格式错误：{exc}") from None
        finally:
            csv.field_size_limit(previous)

    def _xlsx_rows(self, code_positions: set[int]):
        # Calamine (Rust) parses the sheet several times faster than openpyxl, but holds it
        # whole, as a dense grid from its first to its last cell: the sheet's extent is
        # bounded first from its XML (see `xlsx_sheet_extent`), so neither a sheet past
        # max_rows nor a few cells far apart cost memory.
        import python_calamine

        limit, last_row = self.limits.max_cell_chars, self.limits.max_rows + 1
        try:
            book = python_calamine.CalamineWorkbook.from_path(self.path)
        except (python_calamine.CalamineError, OSError, ValueError) as exc:
            raise UnreadableFile(f"无法打开 Excel 文件：{str(exc)[:80]}") from None
        try:
            first = next(
                (
                    i
                    for i, m in enumerate(book.sheets_metadata)
                    if m.typ == python_calamine.SheetTypeEnum.WorkSheet
                ),
                None,
            )
            if first is None:
                raise UnreadableFile("工作表为空")
            rows_bound, columns_bound = xlsx_sheet_extent(self.path, first)
            if rows_bound > last_row:
                raise UnreadableFile(
                    f"工作表超过 {self.limits.max_rows:,} 行的上限，文件未加载；请拆分后重新上传"
                )
            if rows_bound * columns_bound > XLSX_MAX_CELLS:
                raise UnreadableFile(
                    f"工作表的单元格范围（{rows_bound:,} 行 × {columns_bound:,} 列）远超其内容，未读取；"
                    "请删除远处的空白格式或另存为 CSV 后重新上传"
                )
            try:
                sheet = book.get_sheet_by_index(first)
            except python_calamine.CalamineError as exc:
                raise UnreadableFile(f"无法读取 Excel 工作表：{str(exc)[:80]}") from None
            if sheet.start is None:
                raise UnreadableFile("工作表为空")
            (top, left), (bottom, right) = sheet.start, sheet.end
            if bottom + 1 > last_row:  # the bound above guards memory; this, the exact count
                raise UnreadableFile(
                    f"工作表超过 {self.limits.max_rows:,} 行的上限，文件未加载；请拆分后重新上传"
                )
            # Calamine's grid starts at the first cell: rows and columns before it are empty.
            width, pad = right + 1, [""] * left
            rows = sheet.iter_rows()
            header = [header_text(h) for h in next(rows)] if top == 0 else [""] * width
            if left:
                header = pad + header
            if any(len(h) > limit for h in header):
                raise cell_too_long(self.limits, 1)
            yield header
            for number, values in enumerate(rows, start=top + 2 if top == 0 else top + 1):
                texts = [cell_text(v) for v in values]
                if not any(t.strip() for t in texts):
                    continue
                row = Row(number, pad + texts if left else texts)
                for pos in code_positions:
                    value = values[pos - left] if left <= pos < width else ""
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        row.numeric_code_cells.append(pos)
                if max(map(len, texts)) > limit:
                    raise cell_too_long(self.limits, number)
                yield row
        finally:
            book.close()


XLSX_MAX_CELLS = 40_000_000  # a sheet's grid (rows × columns) held at most: about 1.3 GB in calamine
_XLSX_ROW_REF = re.compile(rb"<row\b[^>]*?\sr=\"(\d+)\"")
_XLSX_WIDE_REF = re.compile(rb"<c\b[^>]*?\sr=\"([A-Z]{2,3})[0-9]")  # cells past column Z


def xlsx_sheet_extent(path: Path, index: int) -> tuple[int, int]:
    """Upper bounds of the rows and columns a reader's grid of the workbook's `index`-th sheet
    spans, from one streamed pass over the sheet's XML (1 MiB at a time): the last row and
    column any reference names, plus the rows and cells that carry no reference (a reader
    places those after the one before)."""
    import zipfile

    with zipfile.ZipFile(path) as archive, archive.open(_xlsx_sheet_member(archive, index)) as xml:
        last_row, last_column = 0, 26
        rows = row_references = cells = references = 0
        carry = b""
        while chunk := xml.read(CHUNK):
            data = carry + chunk
            cut = data.rfind(b"<")  # a tag is never split between two passes
            data, carry = data[:cut], data[cut:]
            rows += data.count(b"<row")
            cells += data.count(b"<c ") + data.count(b"<c>") + data.count(b"<c/>")
            references += data.count(b' r="')
            numbers = _XLSX_ROW_REF.findall(data)
            if numbers:
                last_row = max(last_row, *map(int, numbers))
                row_references += len(numbers)
            for letters in _XLSX_WIDE_REF.findall(data):
                last_column = max(last_column, _column_index(letters))
    cell_references = references - row_references
    return last_row + max(0, rows - row_references), last_column + max(0, cells - cell_references)


def _column_index(letters: bytes) -> int:
    """1 for A, 27 for AA."""
    index = 0
    for letter in letters:
        index = index * 26 + letter - 64
    return index


def _xlsx_sheet_member(archive, index: int) -> str:
    """The archive member holding the workbook's `index`-th sheet (workbook order, as calamine
    counts), found through the workbook's relationships."""
    import posixpath
    import xml.etree.ElementTree as ET

    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    relation = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    try:
        sheets = ET.fromstring(archive.read("xl/workbook.xml")).iter(f"{main}sheet")
        wanted = [s.get(relation) for s in sheets][index]
        links = ET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
        target = next(r.get("Target") for r in links if r.get("Id") == wanted)
    except (KeyError, IndexError, StopIteration, ET.ParseError) as exc:
        raise UnreadableFile(f"无法打开 Excel 文件：{str(exc)[:80]}") from None
    return target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")


def header_text(value) -> str:
    """A header cell as text: a number Excel stored for a header reads as it shows."""
    return cell_text(value) if isinstance(value, float) else ("" if value is None else str(value))


def cell_text(value) -> str:
    """An XLSX cell as the text a clerk sees."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return (
            value.strftime("%Y-%m-%d %H:%M:%S")
            if (value.hour, value.minute, value.second) != (0, 0, 0)
            else value.strftime("%Y-%m-%d")
        )
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    return str(value)


class CopyStream(io.RawIOBase):
    """A file-like view of an iterator of text (or bytes) chunks, for psycopg2's copy_expert."""

    def __init__(self, lines: Iterator[str]):
        self._lines = lines
        self._buffer = b""
        self._offset = 0  # read position in _buffer: slicing per read would copy the rest each time

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while len(self._buffer) - self._offset < len(target):
            try:
                more = next(self._lines)
                if isinstance(more, str):
                    more = more.encode("utf-8")
            except StopIteration:
                break
            self._buffer = self._buffer[self._offset :] + more
            self._offset = 0
        n = min(len(target), len(self._buffer) - self._offset)
        target[:n] = self._buffer[self._offset : self._offset + n]
        self._offset += n
        return n


def copy_safe(path: Path, encoding: str) -> bool:
    """Whether PostgreSQL's CSV parser reads the file exactly as Python's csv module does.

    They differ on blank lines (Python skips them, COPY refuses them) and on a quote inside
    an unquoted field (Python keeps it as text, COPY starts a quoted section there). Files
    with either are read row by row in Python instead. Encodings other than UTF-8 and
    GB18030 are not handed to COPY either."""
    if encoding not in ("utf-8", "utf-8-sig", "gb18030"):
        return False
    blank_line = re.compile(rb"\n[ \t,]*\r?\n")
    carry, recheck = b"\n", 0  # the file starts as if after a line end
    with path.open("rb") as fh:
        chunk = fh.read(CHUNK).removeprefix(codecs.BOM_UTF8)
        while chunk:
            data = carry + chunk
            if blank_line.search(data):
                return False
            quote = data.find(b'"', len(carry) - recheck)
            recheck = 0
            while quote != -1:
                before, after = data[quote - 1 : quote], data[quote + 1 : quote + 2]
                if not after:
                    recheck = 1  # the last byte of this chunk: look again with the next one
                elif before not in b',\r\n"' and after not in b',\r\n"':
                    return False
                quote = data.find(b'"', quote + 1)
            # carry the last line (a blank line or a quote may straddle the chunk border)
            last_line = data.rfind(b"\n")
            carry = data[last_line:] if last_line >= 0 and len(data) - last_line <= 4096 else data[-2:]
            chunk = fh.read(CHUNK)
    last_line = carry[carry.rfind(b"\n") + 1 :]
    if last_line and not last_line.strip(b" \t,\r"):
        return False
    return True
