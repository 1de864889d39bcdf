"""The bulk path of a CSV file: rows already in plain form go into raw with one COPY.

Most rows a department sends are plain: codes upper-case with nothing to trim, dates as
YYYY-MM-DD, amounts without separators, enumeration values spelt exactly. Such a row
needs no cleaning, only the rules a plain row can still break (check characters, ranges,
cross-field checks). So:

1. Arrow reads the file in blocks; patterns generated from the contract (vectorised, RE2)
   tell plain rows from the rest. Plain rows are streamed to COPY straight into
   `raw.<feed>` with their lineage (while Arrow prepares the next block on the other
   core); the other rows are set aside in a spill file.
2. The remaining rules run in SQL: rules over codes and names once per distinct value
   (1,000,000 parking rows have about 55,000 owners), the others once per row. Rows that
   break one are taken back out of raw.
3. The set-aside and taken-back rows, as the file had them, go into `_landing`, where the
   general path (clean, type, check: `validation.insert_good_rows` / `errors_select`)
   loads what it can and names every finding, exactly as for a file read row by row.

The plain patterns are narrower than what the general path accepts, never wider: a row
they refuse is only slower, not judged differently. `tests/integration/test_ingest_bulk.py`
checks that both paths give the same raw rows and the same findings.
"""
from __future__ import annotations

import io
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Queue

from xinyong import validation
from xinyong.contracts import Column, Contract
from xinyong.readers import CopyStream, HeaderMap

ARROW_BLOCK = 1 << 23  # bytes of CSV per Arrow block: about 60,000 parking rows

# Plain forms, RE2 syntax. Each is also the text PostgreSQL gives back for the typed value
# (ISO dates, canonical numbers), so a plain row taken back out of raw reads as it was sent.
_CODE = r"[!#-+\--`{-~\x{4e00}-\x{9fff}]+"  # printable ASCII but , " and lower case; CJK
_EDGE = r"[^,\" \x00-\x1f\x{3000}\x{a0}]"  # what xy.clean would not trim (nor CSV quote)
_DATE = (r"(?:1[89][0-9][0-9]|2[01][0-9][0-9]|2200)-"
         r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
         r"|02-(?:0[1-9]|1[0-9]|2[0-8]))")  # 29 February takes the general path
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
_UNSIGNED = r"(?:0|[1-9][0-9]{0,14})"
PLAIN = {
    "text": rf"{_EDGE}(?:[^,\"\x00-\x1f]*{_EDGE})?",  # no control characters either
    "code": _CODE, "uscc": _CODE, "ric": _CODE,
    "date": _DATE,
    "datetime": rf"{_DATE} {_TIME}",
    "amount": rf"{_UNSIGNED}(?:\.[0-9]{{1,6}})?",
    "integer": _UNSIGNED,
    "year": r"[12][0-9]{3}",
}


class NotBulk(Exception):
    """The file cannot take the bulk path (Arrow cannot parse it as a table); use the general one."""


@dataclass
class BulkLoad:
    rows_read: int
    rows_loaded: int       # plain rows left in raw after the rules
    rows_set_aside: int    # rows now in `_landing` for the general path


def eligible(contract: Contract, header_map: HeaderMap) -> bool:
    """The bulk path maps file columns one to one onto raw columns: no unknown ones to keep."""
    return not header_map.extra and not header_map.missing_required


def _plain_mask(col: Column, values):
    import pyarrow as pa
    import pyarrow.compute as pc

    if col.type == "enum":
        ok = pc.is_in(values, value_set=pa.array(list(col.values), pa.string()))
    else:
        pattern = PLAIN.get(col.type)
        if col.type == "enum_set":
            one = "|".join(_re2_escape(v) for v in col.values)
            pattern = f"(?:{one})(?:;(?:{one}))*"
        ok = pc.match_substring_regex(values, f"^(?:{pattern})$")
    present = pc.is_valid(values)
    if col.required:
        return pc.and_kleene(present, ok)
    return pc.or_kleene(pc.invert(present), ok)


# Several columns as one key, so that distinct combinations cost one hash pass. Plain
# cells hold no control characters, so neither can be part of a value.
_SEPARATOR, _NULL = "\x00", "\x01"


def _joined(columns):
    import pyarrow.compute as pc

    if len(columns) == 1:
        return columns[0]
    return pc.binary_join_element_wise(*columns, _SEPARATOR, null_handling="replace", null_replacement=_NULL)


def _re2_escape(text: str) -> str:
    return "".join("\\" + ch if ch in r".^$*+?()[]{}|\-" else ch for ch in text)


class _PlainRows:
    """Arrow blocks of the file in, CSV for COPY out (plain rows); the others to the spill file."""

    def __init__(self, path: Path, encoding: str, width: int, contract: Contract, header_map: HeaderMap,
                 lineage: tuple[int, str, str], groups: list[tuple[str, ...]], spill):
        import pyarrow as pa
        import pyarrow.csv as pcsv

        self.names = [f"f{i}" for i in range(1, width + 1)]
        self.reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(column_names=self.names, skip_rows=1, block_size=ARROW_BLOCK, use_threads=False,
                                          encoding="utf8" if encoding.startswith("utf-8") else encoding),
            parse_options=pcsv.ParseOptions(newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in self.names},
                                                strings_can_be_null=True, quoted_strings_can_be_null=True))
        self.mapped = sorted((pos, contract.column(name)) for name, pos in header_map.positions.items())
        self.lineage, self.groups, self.spill = lineage, groups, spill
        self.personal_ids: list = []  # distinct personal ID numbers per block, for their keyed hashes
        self.combos: dict[tuple[str, ...], list] = {g: [] for g in groups}
        self.next_row = 2  # the header is row 1
        self.set_aside = 0
        self.error: Exception | None = None

    def copy_columns(self) -> list[str]:
        return (["_source_row"] + [col.name for _, col in self.mapped]
                + ["_file_id", "_source_file", "_as_of"])

    @property
    def rows_read(self) -> int:
        return self.next_row - 2

    def chunks(self):
        import pyarrow as pa

        while True:
            try:
                batch = self.reader.read_next_batch()
            except StopIteration:
                return
            except pa.ArrowInvalid as exc:  # a ragged row, say: the general reader copes with it
                self.error = exc
                return
            yield self._plain_csv(batch)

    def _plain_csv(self, batch) -> bytes:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pcsv

        n = batch.num_rows
        rows = pa.array(np.arange(self.next_row, self.next_row + n, dtype=np.int64))
        self.next_row += n
        plain = None
        for pos, col in self.mapped:
            mask = _plain_mask(col, batch.column(pos))
            plain = mask if plain is None else pc.and_kleene(plain, mask)
        plain = pc.fill_null(plain, False) if plain is not None else pa.repeat(pa.scalar(True), n)
        if not pc.all(plain).as_py():
            other = pc.invert(plain)
            set_aside = pa.Table.from_arrays([pc.filter(rows, other)] + [pc.filter(c, other) for c in batch.columns],
                                             names=["_row"] + self.names)
            pcsv.write_csv(set_aside, self.spill, pcsv.WriteOptions(include_header=False, quoting_style="needed"))
            self.set_aside += set_aside.num_rows
            batch, rows = batch.filter(plain), pc.filter(rows, plain)
            n = batch.num_rows
        if n == 0:
            return b""
        columns = [rows] + [batch.column(pos) for pos, _ in self.mapped]
        file_id, file_name, as_of = self.lineage
        columns += [pa.repeat(pa.scalar(file_id, pa.int64()), n), pa.repeat(pa.scalar(file_name), n),
                    pa.repeat(pa.scalar(as_of), n)]
        for pos, col in self.mapped:
            if col.personal == "id":
                self.personal_ids.append(pc.unique(batch.column(pos)))
        by_name = {col.name: batch.column(pos) for pos, col in self.mapped}
        for group in self.groups:
            self.combos[group].append(pc.unique(_joined([by_name[c] for c in group])))
        out = pa.BufferOutputStream()
        # Plain values hold no comma, quote or line break, so nothing is quoted: COPY parses
        # unquoted CSV markedly faster (Arrow would refuse a value that needed quotes).
        pcsv.write_csv(pa.Table.from_arrays(columns, names=[f"c{i}" for i in range(len(columns))]), out,
                       pcsv.WriteOptions(include_header=False, quoting_style="none"))
        return out.getvalue().to_pybytes()

    def distinct(self, group: tuple[str, ...]):
        """The distinct value combinations of the group's columns among the plain rows, as a table."""
        import pyarrow as pa
        import pyarrow.compute as pc

        parts = self.combos[group]
        if not parts:
            return None
        keys = pc.unique(pa.chunked_array(parts, pa.string()))
        if len(group) == 1:
            return pa.table({group[0]: keys})
        cells = pc.split_pattern(keys, _SEPARATOR)
        columns = []
        for i in range(len(group)):
            cell = pc.list_element(cells, i)
            columns.append(pc.if_else(pc.equal(cell, _NULL), pa.scalar(None, pa.string()), cell))
        return pa.table(dict(zip(group, columns)))


def load(cur, contract: Contract, header_map: HeaderMap, path: Path, encoding: str, width: int,
         file_id: int, file_name: str, as_of) -> BulkLoad:
    """Plain rows into raw, the rest into `_landing` (which the caller has created). Raises NotBulk
    before anything is written when Arrow cannot read the file; the caller's savepoint covers
    anything else."""
    rules = validation.bulk_rules(contract)
    groups = sorted({refs for refs, _ in rules if validation.per_distinct(contract, refs)})
    cur.execute("set local datestyle = 'ISO, YMD'")  # dates back to text as they were sent
    import pyarrow as pa

    with tempfile.TemporaryFile() as spill:
        try:  # Arrow reads the first block on opening
            plain = _PlainRows(path, encoding, width, contract, header_map,
                               (file_id, file_name, as_of.isoformat()), groups, spill)
        except pa.ArrowInvalid as exc:
            raise NotBulk(str(exc).splitlines()[0]) from None
        cur.copy_expert(f"copy {contract.raw_table} ({', '.join(plain.copy_columns())}) from stdin "
                        "with (format csv)", CopyStream(_ahead(plain.chunks())), size=1 << 20)
        if plain.error is not None:
            raise NotBulk(str(plain.error).splitlines()[0])
        copied = cur.rowcount
        taken_back = _take_back_rule_breakers(cur, contract, header_map, width, file_id, rules, groups, plain)
        _stage_personal_ids(cur, plain, header_map, contract)
        spill.seek(0)
        columns = ", ".join(["_row"] + validation.landing_columns(width))
        cur.copy_expert(f"copy _landing ({columns}) from stdin with (format csv)", spill, size=1 << 20)
    return BulkLoad(plain.rows_read, copied - taken_back, plain.set_aside + taken_back)


def _stage_personal_ids(cur, plain: _PlainRows, header_map: HeaderMap, contract: Contract) -> None:
    """The distinct personal ID numbers of the plain rows still in raw, as `_bulk_ids`, for
    their keyed hashes (a number only rows taken back had is not kept)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    cur.execute("create temp table _bulk_ids (id_value text) on commit drop")
    if not plain.personal_ids:
        return
    distinct = pc.drop_null(pc.unique(pa.chunked_array(plain.personal_ids, pa.string())))
    data = pa.BufferOutputStream()
    pcsv.write_csv(pa.table({"id_value": distinct}), data,
                   pcsv.WriteOptions(include_header=False, quoting_style="needed"))
    cur.copy_expert("copy _bulk_ids from stdin with (format csv)", io.BytesIO(data.getvalue().to_pybytes()))
    cur.execute("select to_regclass('pg_temp._taken_back') is not null")
    if cur.fetchone()[0]:
        personal = [(name, pos) for name, pos in header_map.positions.items()
                    if contract.column(name).personal == "id"]
        taken = " union ".join(f"select f{pos + 1} from _taken_back" for _, pos in personal)
        still_there = " or ".join(f"r.{name} = b.id_value" for name, _ in personal)
        cur.execute(f"""delete from _bulk_ids b where b.id_value in ({taken})
                          and not exists (select 1 from {contract.raw_table} r
                                          where r._file_id = %s and ({still_there}))""",
                    (plain.lineage[0],))


def _ahead(chunks, depth: int = 2):
    """The chunks, made by a thread of their own while COPY sends the previous ones: Arrow
    releases the GIL, so the two run on two cores instead of taking turns."""
    done = object()
    queue: Queue = Queue(maxsize=depth)
    stop = threading.Event()

    def produce():
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                queue.put(chunk)
            queue.put(done)
        except BaseException as exc:  # handed to the consuming thread
            queue.put(exc)

    worker = threading.Thread(target=produce, name="bulk-arrow", daemon=True)
    worker.start()
    try:
        while (item := queue.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                queue.get(timeout=0.1)
            except Empty:
                pass
        worker.join()


def _take_back_rule_breakers(cur, contract: Contract, header_map: HeaderMap, width: int, file_id: int,
                             rules, groups, plain: _PlainRows) -> int:
    """Move the plain rows that break a rule from raw to `_landing`; how many there were."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    per_row = [reason for refs, reason in rules if refs not in groups]
    bad_combos = []
    for i, group in enumerate(groups):
        combos = plain.distinct(group)
        if combos is None:
            continue
        table = f"_combos_{i}"
        cur.execute(f"create temp table {table} ({', '.join(f'{_q(c)} text' for c in group)}) on commit drop")
        data = pa.BufferOutputStream()
        pcsv.write_csv(combos, data, pcsv.WriteOptions(include_header=False, quoting_style="needed"))
        cur.copy_expert(f"copy {table} from stdin with (format csv)", io.BytesIO(data.getvalue().to_pybytes()))
        reasons = [reason for refs, reason in rules if refs == group]
        cur.execute(f"create temp table _broken_{i} on commit drop as "
                    f"select * from {table} c where coalesce({', '.join(reasons)}) is not null")
        if cur.rowcount:
            keys = ", ".join(f"coalesce(c.{_q(col)}, chr(1))" for col in group)
            bad_combos.append(f"({keys}) in (select {keys} from _broken_{i} c)")
    if not per_row and not bad_combos:
        return 0
    broken = [f"coalesce({', '.join(per_row)}) is not null"] if per_row else []
    by_position = {pos: name for name, pos in header_map.positions.items()}
    as_sent = ", ".join((f"c.{_q(by_position[p])}::text" if p in by_position else "null::text") + f" as f{p + 1}"
                        for p in range(width))
    # Found by a SELECT, which PostgreSQL can spread over parallel workers (a DELETE
    # cannot), then taken out by their row addresses.
    cur.execute(f"""select array_agg(c.ctid) from {contract.raw_table} c
                    where c._file_id = {int(file_id)} and ({' or '.join(broken + bad_combos)})""")
    found = cur.fetchone()[0]
    cur.execute(f"""create temp table _taken_back on commit drop as
                    with broken as (
                        delete from {contract.raw_table} c where c.ctid = any(%s::tid[])
                        returning c._source_row as _row, {as_sent})
                    select * from broken""", (found or [],))
    cur.execute(f"insert into _landing (_row, {', '.join(validation.landing_columns(width))}) "
                "select * from _taken_back")
    return cur.rowcount


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
