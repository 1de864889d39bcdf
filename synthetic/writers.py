"""Writing feed files: CSV and XLSX, headers taken from the feed's contract.

A feed module builds each row as a dict keyed by the contract's column names; `Layout`
puts the values in contract order under the contract's headers, and refuses a row whose
columns are not exactly the contract's, so the generator cannot drift from the contracts.
"""

from __future__ import annotations

import csv
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain, islice
from operator import itemgetter
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from openpyxl.utils import get_column_letter

from synthetic.dates import Date
from xinyong.ingest import contracts

ProgressCallback = Callable[[str, int, int], None]
PROGRESS_EVERY = 50_000
XLSX_MAX_DATA_ROWS = 1_048_575  # a worksheet holds 1,048,576 rows, the header's included

Row = Mapping[str, object]


class Layout:
    """A feed's columns as its contract declares them: the header row and the order of values.

    headers renames some columns' headers (by column name), for a quirk file whose header
    a clerk edited.
    """

    def __init__(self, feed: str, headers: Mapping[str, str] | None = None) -> None:
        contract = contracts.load(feed)
        self.feed = feed
        self.contract = contract
        self.names = tuple(c.name for c in contract.columns)
        unknown = set(headers or ()) - set(self.names)
        if unknown:
            raise ValueError(f"{feed}: no column {', '.join(sorted(unknown))} in the contract")
        self.header = [(headers or {}).get(c.name, c.header) for c in contract.columns]
        self._names = frozenset(self.names)
        get = itemgetter(*self.names)
        self._get = get if len(self.names) > 1 else (lambda row: (get(row),))

    def values(self, row: Row) -> tuple:
        """The row's values in contract order; a row with other columns than the contract's is refused."""
        if row.keys() != self._names:
            missing, extra = self._names - row.keys(), row.keys() - self._names
            raise ValueError(
                f"{self.feed}: row does not match the contract "
                f"(missing {sorted(missing)}, not in the contract {sorted(extra)})"
            )
        return self._get(row)


def xlsx_parts(total: int, rows_per_part: int = XLSX_MAX_DATA_ROWS) -> list[tuple[int | None, int, int]]:
    """(seq for file_name, first row, rows) of the workbooks `total` rows need, at most
    rows_per_part each (a worksheet ends at row 1,048,576): a city's big XLSX feeds come in
    several (_2, _3...)."""
    size = min(rows_per_part, XLSX_MAX_DATA_ROWS)
    return [
        (None if part == 1 else part, first, min(size, total - first))
        for part, first in enumerate(range(0, total, size), start=1)
    ] or [(None, 0, 0)]


def xlsx_rows_per_part(layout: Layout, rows: Iterator[Row]) -> tuple[int, Iterator[Row]]:
    """How many rows a workbook of the feed may hold within its contract's limits (rows, and
    90% of the expanded size, from the largest of the first rows' XML); and the rows, unconsumed."""
    sample = list(islice(rows, 1000))
    limits = layout.contract.limits
    columns = [get_column_letter(i) for i in range(1, len(layout.names) + 1)]
    largest = max(
        (
            len(
                (
                    '<row r="1048576">'
                    + "".join(
                        _xlsx_cell(f"{c}1048576", v)
                        for c, v in zip(columns, layout.values(row), strict=False)
                        if v != ""
                    )
                    + "</row>"
                ).encode("utf-8")
            )
            for row in sample
        ),
        default=1,
    )
    return min(limits.max_rows, int(0.9 * limits.max_xlsx_expanded_bytes / largest)), chain(sample, rows)


def file_name(feed: str, day: Date, seq: int | None, ext: str) -> str:
    return f"{feed}_{day:%Y%m%d}{'' if seq is None else f'_{seq}'}.{ext}"


class Progress:
    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback

    def counter(self, feed: str, total: int) -> Callable[[int], None]:
        """Reports every PROGRESS_EVERY rows and at total."""

        def on_row(done: int) -> None:
            if self._callback is not None and (done % PROGRESS_EVERY == 0 or done == total):
                self._callback(feed, done, total)

        return on_row


def write_csv(
    path: Path,
    layout: Layout,
    rows: Iterable[Row],
    encoding: str,
    line_end: str = "\r\n",
    on_row: Callable[[int], None] | None = None,
) -> int:
    count = 0
    values = layout.values
    with open(path, "w", encoding=encoding, newline="", buffering=1 << 20) as handle:
        writer = csv.writer(handle, lineterminator=line_end)
        writer.writerow(layout.header)
        for row in rows:
            writer.writerow(values(row))
            count += 1
            if on_row is not None:
                on_row(count)
    return count


_XLSX_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_XLSX_PARTS = {
    "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/docProps/core.xml" '
    'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>',
    "_rels/.rels": f'<Relationships xmlns="{_RELS_NS}">'
    f'<Relationship Id="rId1" Type="{_DOC_RELS}/officeDocument" Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/'
    'core-properties" Target="docProps/core.xml"/></Relationships>',
    "xl/workbook.xml": f'<workbook xmlns="{_XLSX_NS}" xmlns:r="{_DOC_RELS}">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{_RELS_NS}">'
    f'<Relationship Id="rId1" Type="{_DOC_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_DOC_RELS}/styles" Target="styles.xml"/></Relationships>',
    "xl/styles.xml": f'<styleSheet xmlns="{_XLSX_NS}">'
    '<fonts count="1"><font><sz val="11"/><name val="宋体"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>',
}


def _xlsx_cell(reference: str, value: str | int | float) -> str:
    if isinstance(value, str):
        space = ' xml:space="preserve"' if value != value.strip() else ""
        return f'<c r="{reference}" t="inlineStr"><is><t{space}>{xml_escape(value)}</t></is></c>'
    return f'<c r="{reference}"><v>{value!r}</v></c>'


def _size(handle) -> int:
    handle.flush()
    return os.fstat(handle.fileno()).st_size


def write_csv_parts(
    folder: Path,
    feed: str,
    day: Date,
    layout: Layout,
    rows: Iterable[Row],
    encoding: str,
    line_end: str = "\r\n",
    on_row: Callable[[int], None] | None = None,
) -> list[tuple[str, int]]:
    """The rows in one file, or at city scale in several (_2, _3...): a part ends before the
    contract's limits (max_rows; 90% of max_file_mb, looked at every 1,000 rows), so the
    platform accepts every part. (file name, rows) per part; one part is what write_csv writes."""
    limits = layout.contract.limits
    max_bytes = int(0.9 * limits.max_file_bytes)
    parts: list[tuple[str, int]] = []
    handle = writer = None
    count = in_part = 0
    values = layout.values
    try:
        for row in rows:
            if (
                handle is None
                or in_part == limits.max_rows
                or (in_part % 1000 == 0 and _size(handle) >= max_bytes)
            ):
                if handle is not None:
                    handle.close()
                    parts[-1] = (parts[-1][0], in_part)
                name = file_name(feed, day, len(parts) + 1 if parts else None, "csv")
                handle = open(folder / name, "w", encoding=encoding, newline="", buffering=1 << 20)
                writer = csv.writer(handle, lineterminator=line_end)
                writer.writerow(layout.header)
                parts.append((name, 0))
                in_part = 0
            writer.writerow(values(row))
            count += 1
            in_part += 1
            if on_row is not None:
                on_row(count)
    finally:
        if handle is not None:
            handle.close()
    if not parts:  # no rows: the header alone
        name = file_name(feed, day, None, "csv")
        write_csv(folder / name, layout, [], encoding, line_end)
        return [(name, 0)]
    parts[-1] = (parts[-1][0], in_part)
    return parts


def write_xlsx_parts(
    folder: Path,
    feed: str,
    day: Date,
    layout: Layout,
    rows: Iterable[Row],
    total: int,
    on_row: Callable[[int], None] | None = None,
) -> list[tuple[str, int, int]]:
    """The `total` rows in one workbook, or at city scale in several (_2, _3...), each within
    the contract's limits (xlsx_rows_per_part). (file name, first row, rows) per workbook;
    on_row counts across them."""
    rows_per_part, remaining = xlsx_rows_per_part(layout, iter(rows))
    parts = []
    for seq, first, count in xlsx_parts(total, rows_per_part):
        name = file_name(feed, day, seq, "xlsx")
        written = write_xlsx(
            folder / name,
            layout,
            islice(remaining, count),
            count,
            day,
            on_row=None if on_row is None else lambda done, first=first: on_row(first + done),
        )
        parts.append((name, first, written))
    return parts


def write_xlsx(
    path: Path,
    layout: Layout,
    rows: Iterable[Row],
    row_count: int,
    as_of: Date,
    on_row: Callable[[int], None] | None = None,
) -> int:
    """One-sheet workbook, header in row 1: str values are text cells, numbers number cells,
    empty strings no cell.

    Written directly as SpreadsheetML (inline strings), streamed: openpyxl without lxml
    needs half a minute for 100,000 rows, and stamps the save time into the file. Here the
    ZIP entries and document properties carry fixed times, so the bytes depend on the
    content only (and on zlib compressing the same way).
    """
    header, values = layout.header, layout.values
    columns = [get_column_letter(i) for i in range(1, len(header) + 1)]
    stamp = f"{as_of.isoformat()}T00:00:00Z"
    core = (
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>synthetic.generate</dc:creator>'
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified></cp:coreProperties>'
    )

    def entry(name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info

    count = 0
    with zipfile.ZipFile(path, "w") as archive:
        for name, xml in {**_XLSX_PARTS, "docProps/core.xml": core}.items():
            archive.writestr(entry(name), _XML_DECLARATION + xml)
        with archive.open(entry("xl/worksheets/sheet1.xml"), "w") as sheet:
            sheet.write(
                (
                    f'{_XML_DECLARATION}<worksheet xmlns="{_XLSX_NS}">'
                    f'<dimension ref="A1:{columns[-1]}{row_count + 1}"/><sheetData>'
                ).encode()
            )
            chunk = [
                '<row r="1">'
                + "".join(_xlsx_cell(f"{c}1", h) for c, h in zip(columns, header, strict=False))
                + "</row>"
            ]
            for count, row in enumerate(rows, start=1):
                number = count + 1
                chunk.append(
                    f'<row r="{number}">'
                    + "".join(
                        _xlsx_cell(f"{c}{number}", v)
                        for c, v in zip(columns, values(row), strict=False)
                        if v != ""
                    )
                    + "</row>"
                )
                if len(chunk) >= 2000:
                    sheet.write("".join(chunk).encode("utf-8"))
                    chunk = []
                if on_row is not None:
                    on_row(count)
            chunk.append("</sheetData></worksheet>")
            sheet.write("".join(chunk).encode("utf-8"))
    if count != row_count:
        raise ValueError(f"{path.name}: {count} rows written, {row_count} announced")
    return count
