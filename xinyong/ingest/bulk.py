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
   (1,000,000 parking rows have about 55,000 owners) on a second connection while COPY
   runs, and the keyed hashes of personal IDs in Python beside it (`_SideWork`); the
   others once per row after COPY. Rows that break one are taken back out of raw.
3. The set-aside and taken-back rows, as the file had them, go into `_landing`, where the
   general path (clean, type, check: `validation.insert_good_rows` / `errors_select`)
   loads what it can and names every finding, exactly as for a file read row by row.

The plain patterns are narrower than what the general path accepts, never wider: a row
they refuse is only slower, not judged differently. `tests/integration/test_ingest_bulk.py`
checks that both paths give the same raw rows and the same findings.
"""

from __future__ import annotations

import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Queue

from xinyong.ingest import validation
from xinyong.ingest.contracts import Column, Contract
from xinyong.ingest.readers import HeaderMap, cell_too_long
from xinyong.runtime import faults, secrets

ARROW_BLOCK = 1 << 24  # bytes of CSV per Arrow block: about 120,000 parking rows; fewer blocks, fewer
# passes over the distinct values seen so far (see _SideWork)

# Plain forms, RE2 syntax. Each is also the text PostgreSQL gives back for the typed value
# (ISO dates, canonical numbers), so a plain row taken back out of raw reads as it was sent.
_CODE = r"[!#-+\--`{-~\x{4e00}-\x{9fff}]+"  # printable ASCII but , " and lower case; CJK
_EDGE = r"[^,\" \x00-\x1f\x{3000}\x{a0}]"  # what xy.clean would not trim (nor CSV quote)
_DATE = (
    r"(?:1[89][0-9][0-9]|2[01][0-9][0-9]|2200)-"
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)  # 29 February takes the general path
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
_UNSIGNED = r"(?:0|[1-9][0-9]{0,14})"
PLAIN = {
    "text": rf"{_EDGE}(?:[^,\"\x00-\x1f]*{_EDGE})?",  # no control characters either
    "code": _CODE,
    "uscc": _CODE,
    "ric": _CODE,
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
    rows_loaded: int  # plain rows left in raw after the rules
    rows_set_aside: int  # rows now in `_landing` for the general path
    # (the plain rows' keys as one Arrow array, those among them more than once), being
    # worked out beside what follows COPY; None when the plain text does not tell the key
    plain_keys: Future | None = None


class _WholeChunks:
    """The chunks as a file for psycopg2's copy_expert, which sends whatever `read` returns:
    each chunk goes to the server as it is, without being cut to the requested size."""

    def __init__(self, chunks):
        self._chunks = chunks

    def read(self, size: int = -1) -> bytes:
        for chunk in self._chunks:
            if chunk:
                return chunk
        return b""


def eligible(header_map: HeaderMap) -> bool:
    """The bulk path maps file columns one to one onto raw columns: no unknown ones to keep."""
    return not header_map.extra and not header_map.missing_required


def _plain_pattern(col: Column) -> str:
    """RE2 pattern of the column's plain values (an absent optional value is the empty string)."""
    if col.type == "enum":
        pattern = "|".join(_re2_escape(v) for v in col.values)
    elif col.type == "enum_set":
        one = "|".join(_re2_escape(v) for v in col.values)
        pattern = f"(?:{one})(?:;(?:{one}))*"
    else:
        pattern = PLAIN[col.type]
    return f"(?:{pattern})" if col.required else f"(?:{pattern})?"


def _line_pattern(columns: list[Column]) -> str:
    """One pattern over a row's cells joined by commas. No plain pattern matches a comma (nor
    the empty string unless the column is optional), so the row matches exactly when each of
    its cells matches its own column's pattern: one RE2 pass per row instead of one per cell."""
    return "^" + ",".join(_plain_pattern(col) for col in columns) + "$"


def _plain_mask(col: Column, values):
    """Which of a column's values are plain (the line pattern of that column alone)."""
    import pyarrow.compute as pc

    return pc.match_substring_regex(pc.fill_null(values, ""), _line_pattern([col]))


# Several columns as one key, so that distinct combinations cost one hash pass. Plain
# cells hold no control characters, so neither can be part of a value.
_SEPARATOR, _NULL = "\x00", "\x01"


def _joined(columns):
    import pyarrow.compute as pc

    if len(columns) == 1:
        return columns[0]
    return pc.binary_join_element_wise(*columns, _SEPARATOR, null_handling="replace", null_replacement=_NULL)


def _keys_as_text(contract: Contract) -> bool:
    """Whether the plain text of the key's cells is the key's value in raw (string types,
    never empty), so that repeats among plain rows can be told from the text alone."""
    return all(contract.column(k).required for k in contract.key) and validation.per_distinct(
        contract, tuple(contract.key)
    )


def _re2_escape(text: str) -> str:
    return "".join("\\" + ch if ch in r".^$*+?()[]{}|\-" else ch for ch in text)


class _PlainRows:
    """Arrow blocks of the file in, CSV for COPY out (plain rows); the others to the spill file."""

    def __init__(
        self,
        path: Path,
        encoding: str,
        width: int,
        contract: Contract,
        header_map: HeaderMap,
        lineage: tuple[int, str, str],
        side: _SideWork,
        spill,
        max_cell_chars: int,
    ):
        import pyarrow as pa
        import pyarrow.csv as pcsv

        self.names = [f"f{i}" for i in range(1, width + 1)]
        self.reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(
                column_names=self.names,
                skip_rows=1,
                block_size=ARROW_BLOCK,
                use_threads=False,
                encoding="utf8" if encoding.startswith("utf-8") else encoding,
            ),
            parse_options=pcsv.ParseOptions(newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                column_types={n: pa.string() for n in self.names},
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
        self.mapped = sorted((pos, contract.column(name)) for name, pos in header_map.positions.items())
        self.pattern = _line_pattern([col for _, col in self.mapped])
        file_id, file_name, as_of = lineage
        # the lineage and the line end after each row's cells (the file name quoted for CSV)
        quoted_name = '"' + file_name.replace('"', '""') + '"'
        self.lineage_csv = f"{file_id},{quoted_name},{as_of}\n"
        self.side, self.spill = side, spill
        # The plain rows' keys, when plain text is the key's value (see repeated_key_candidates).
        self.key = tuple(contract.key) if _keys_as_text(contract) else None
        self.keys: list = []
        self.next_row = 2  # the header is row 1
        self.set_aside = 0
        self.error: Exception | None = None
        self.max_cell_chars = max_cell_chars
        self.too_long: int | None = None  # the first row with a cell past the feed's limit

    def copy_columns(self) -> list[str]:
        return ["_source_row"] + [col.name for _, col in self.mapped] + ["_file_id", "_source_file", "_as_of"]

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
            self.too_long = self._first_too_long(batch)
            if self.too_long is not None:  # the file is refused: stop reading it
                return
            yield self._plain_csv(batch)

    def _first_too_long(self, batch) -> int | None:
        """The file row of the block's first cell longer than the feed allows, if any."""
        import pyarrow.compute as pc

        over = None
        for column in batch.columns:
            # A cell has no more characters than bytes: only count them where bytes could exceed.
            if (pc.max(pc.binary_length(column)).as_py() or 0) <= self.max_cell_chars:
                continue
            longer = pc.greater(pc.utf8_length(column), self.max_cell_chars)
            over = longer if over is None else pc.or_kleene(over, longer)
        if over is None or not pc.any(over).as_py():
            return None
        return self.next_row + pc.index(pc.fill_null(over, False), True).as_py()

    def _plain_csv(self, batch) -> bytes:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pcsv

        n = batch.num_rows
        rows = pa.array(np.arange(self.next_row, self.next_row + n, dtype=np.int64))
        self.next_row += n
        # The row's cells joined by commas (an absent one empty): what the line pattern checks
        # and, for a plain row, already the CSV COPY reads (plain cells need no quoting).
        line = pc.binary_join_element_wise(
            *(batch.column(pos) for pos, _ in self.mapped), ",", null_handling="replace", null_replacement=""
        )
        plain = pc.match_substring_regex(line, self.pattern)
        if not pc.all(plain).as_py():
            other = pc.invert(plain)
            set_aside = pa.Table.from_arrays(
                [pc.filter(rows, other)] + [pc.filter(c, other) for c in batch.columns],
                names=["_row"] + self.names,
            )
            pcsv.write_csv(
                set_aside, self.spill, pcsv.WriteOptions(include_header=False, quoting_style="needed")
            )
            self.set_aside += set_aside.num_rows
            batch, rows, line = batch.filter(plain), pc.filter(rows, plain), pc.filter(line, plain)
        if batch.num_rows == 0:
            return b""
        by_name = {col.name: batch.column(pos) for pos, col in self.mapped}
        self.side.take(batch=by_name)
        if self.key is not None:
            self.keys.append(_joined([by_name[name] for name in self.key]))
        # row number, the cells, the lineage, a line end: one string per row, whose bytes
        # laid end to end are the block's CSV for COPY
        out = pc.binary_join_element_wise(pc.cast(rows, pa.string()), line, self.lineage_csv, ",")
        offsets, data = out.buffers()[1:3]
        ends = np.frombuffer(offsets, dtype=np.int32, count=len(out) + 1, offset=out.offset * 4)
        return data[int(ends[0]) : int(ends[-1])].to_pybytes()


class _SideWork:
    """What can be worked out per distinct value while COPY runs: the rules over codes and
    names (check characters, the plate pattern…) and the keyed hashes of personal IDs.

    The producer hands over each block's distinct values (an Arrow kernel, cheap); a thread
    of its own keeps those not seen before, sends the rules' values to a second connection
    and hashes the ID numbers itself (the key stays in Python: see secrets.py), so the
    work runs beside COPY and, when COPY ends, the broken combinations and the digests are
    already known."""

    def __init__(self, warehouse_url: str, contract: Contract, header_map: HeaderMap, key: bytes):
        from xinyong.runtime import warehouse

        rules = validation.bulk_rules(contract)
        in_file = set(header_map.positions)
        self.groups = sorted({refs for refs, _ in rules if validation.per_distinct(contract, refs)})
        self.per_row = [reason for refs, reason in rules if refs not in self.groups]
        self.queries = {}
        for group in self.groups:
            # run with parameters: a literal % of the contract's rules must be doubled
            reasons = ", ".join(reason for refs, reason in rules if refs == group).replace("%", "%%")
            # one text per column, a value per line (plain values hold no line breaks): PostgreSQL
            # splits a long text far faster than it parses an array of as many parameters
            arrays = ", ".join(r"string_to_array(%s, E'\n', E'\x01')" for _ in group)
            self.queries[group] = (
                f"select * from unnest({arrays}) as c({', '.join(_q(c) for c in group)}) "
                f"where coalesce({reasons}) is not null"
            )
        self.personal = [name for name in contract.personal_ids if name in in_file]
        self.broken: dict[tuple[str, ...], list[tuple]] = {g: [] for g in self.groups}
        self.digests: dict[str, str] = {}
        self.digests_csv: list[bytes] = []  # the same, as CSV for COPY, written while COPY runs
        self.key = key
        self.conn = self.worker = None
        if self.groups:
            self.conn = warehouse.connect(warehouse_url)
            self.conn.autocommit = True
        if self.groups or self.personal:
            self.queue: Queue = Queue(maxsize=8)
            self.error: BaseException | None = None
            self.worker = threading.Thread(target=self._work, name="bulk-side", daemon=True)
            self.worker.start()

    def take(self, batch: dict) -> None:
        """A block's plain values by column name: keeps their distinct values for the thread."""
        import pyarrow.compute as pc

        if self.worker is None:
            return
        keys = {group: pc.unique(_joined([batch[c] for c in group])) for group in self.groups}
        keys.update({name: pc.unique(batch[name]) for name in self.personal})
        self.queue.put(keys)

    def _work(self) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        seen = {key: pa.array([], pa.string()) for key in [*self.groups, *self.personal]}
        try:
            with self.conn.cursor() if self.conn is not None else nullcontext() as cur:
                while (keys := self.queue.get()) is not None:
                    if self.error is not None:
                        continue  # drain: the producer must not block on a full queue
                    for key, values in keys.items():
                        new = pc.drop_null(values) if key in self.personal else values
                        new = new.filter(pc.invert(pc.is_in(new, value_set=seen[key])))
                        if not len(new):
                            continue
                        seen[key] = pa.concat_arrays([seen[key], new])
                        if key in self.personal:
                            pairs = list(secrets.id_digests(self.key, new.to_pylist()))
                            self.digests.update(pairs)
                            self.digests_csv.append(validation.digests_csv(pairs))
                        else:
                            columns = _split(new.to_pylist(), len(key))
                            cur.execute(
                                self.queries[key],
                                ["\n".join(_NULL if v is None else v for v in col) for col in columns],
                            )
                            self.broken[key].extend(cur.fetchall())
        except BaseException as exc:  # reported by finish(); keep draining until the sentinel
            self.error = exc
            while self.queue.get() is not None:
                pass

    def finish(self) -> None:
        """Wait for the thread to work through what it was given; raise what went wrong there."""
        if self.worker is None:
            return
        self.queue.put(None)
        self.worker.join()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        if self.worker is not None and self.worker.is_alive():
            self.queue.put(None)
            self.worker.join()
        if self.conn is not None:
            self.conn.close()


def _split(keys: list, width: int) -> list[list]:
    """Joined keys back into one list per column (None for the null stand-in)."""
    if width == 1:
        return [keys]
    columns = [[] for _ in range(width)]
    for key in keys:
        for i, cell in enumerate(key.split(_SEPARATOR)):
            columns[i].append(None if cell == _NULL else cell)
    return columns


def load(
    cur,
    contract: Contract,
    header_map: HeaderMap,
    path: Path,
    encoding: str,
    width: int,
    file_id: int,
    file_name: str,
    as_of,
    warehouse_url: str,
    key: bytes,
) -> BulkLoad:
    """Plain rows into raw, the rest into `_landing` (which the caller has created), and the
    keyed hashes (under `key`) of the plain rows' personal IDs into `_bulk_digests`. Raises
    NotBulk when Arrow cannot read the file as a table; the caller's savepoint then undoes
    what was written; raises UnreadableFile for a cell longer than the contract's `limits.max_cell_chars`."""
    import pyarrow as pa

    cur.execute("set local datestyle = 'ISO, YMD'")  # dates back to text as they were sent
    side = _SideWork(warehouse_url, contract, header_map, key)
    try:
        with tempfile.TemporaryFile() as spill:
            try:  # Arrow reads the first block on opening
                plain = _PlainRows(
                    path,
                    encoding,
                    width,
                    contract,
                    header_map,
                    (file_id, file_name, as_of.isoformat()),
                    side,
                    spill,
                    contract.limits.max_cell_chars,
                )
            except pa.ArrowInvalid as exc:
                raise NotBulk(str(exc).splitlines()[0]) from None
            cur.copy_expert(
                f"copy {contract.raw_table} ({', '.join(plain.copy_columns())}) from stdin with (format csv)",
                faults.during_copy(_WholeChunks(_ahead(plain.chunks()))),
                size=1 << 20,
            )
            if plain.too_long is not None:
                raise cell_too_long(contract.limits, plain.too_long)
            if plain.error is not None:
                raise NotBulk(str(plain.error).splitlines()[0])
            copied = cur.rowcount
            keys = None
            if plain.key is not None:  # counted on a thread of its own (Arrow lets go of the GIL)
                pool = ThreadPoolExecutor(max_workers=1)
                keys = pool.submit(_plain_repeats, plain.keys)
                pool.shutdown(wait=False)
            side.finish()
            taken_back = _take_back_rule_breakers(cur, contract, header_map, width, file_id, side)
            _stage_digests(cur, contract, header_map, file_id, side, taken_back)
            spill.seek(0)
            columns = ", ".join(["_row"] + validation.landing_columns(width))
            cur.copy_expert(f"copy _landing ({columns}) from stdin with (format csv)", spill, size=1 << 20)
    finally:
        side.close()
    return BulkLoad(plain.rows_read, copied - taken_back, plain.set_aside + taken_back, keys)


def _plain_repeats(blocks: list) -> tuple:
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = pa.concat_arrays(blocks) if blocks else pa.array([], pa.string())
    # a one-column group-by: a third less CPU than value_counts
    counts = pa.table({"k": keys}).group_by("k", use_threads=False).aggregate([("k", "count")])
    return keys, set(counts["k"].filter(pc.greater(counts["k_count"], 1)).to_pylist())


def repeated_key_candidates(cur, contract: Contract, file_id: int, loaded: BulkLoad) -> list[tuple] | None:
    """The keys that may repeat among the file's rows in raw, told without reading raw's
    rows back: those repeated among the plain rows (from their text), and those of the rows
    the general path loaded that are also among the plain ones or among themselves. A
    superset (a plain row taken back still counts); None when the keys cannot be told from
    the plain text (see `_keys_as_text`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if loaded.plain_keys is None:
        return None
    keys, repeated = loaded.plain_keys.result()
    if loaded.rows_set_aside:
        cur.execute(
            f"select {', '.join(_q(k) for k in contract.key)} from {contract.raw_table} "
            f"where _file_id = %s and _source_row in (select _row from _landing)",
            (file_id,),
        )
        general = [_SEPARATOR.join(row) for row in cur.fetchall()]
        if general:
            others = pa.array(general, pa.string())
            repeated.update(others.filter(pc.is_in(others, value_set=keys)).to_pylist())
            seen: set[str] = set()
            repeated.update(k for k in general if k in seen or seen.add(k))
    return [tuple(k.split(_SEPARATOR)) for k in sorted(repeated)]


def _stage_digests(
    cur, contract: Contract, header_map: HeaderMap, file_id: int, side: _SideWork, taken_back: int
) -> None:
    """The keyed hashes of the plain rows still in raw, as `_bulk_digests` (a number only
    rows taken back had is left out)."""
    cur.execute("create temp table _bulk_digests (id_value text, digest text) on commit drop")
    if not side.digests:
        return
    validation.copy_digests(cur, "_bulk_digests", b"".join(side.digests_csv))
    if taken_back:
        positions = [header_map.positions[name] for name in side.personal]
        taken = " union ".join(f"select f{pos + 1} from _taken_back" for pos in positions)
        still_there = " or ".join(f"r.{name} = b.id_value" for name in side.personal)
        cur.execute(
            f"""delete from _bulk_digests b where b.id_value in ({taken})
                          and not exists (select 1 from {contract.raw_table} r
                                          where r._file_id = %s and ({still_there}))""",
            (file_id,),
        )


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


def _take_back_rule_breakers(
    cur, contract: Contract, header_map: HeaderMap, width: int, file_id: int, side: _SideWork
) -> int:
    """Move the plain rows that break a rule from raw to `_landing`; how many there were."""
    per_row = side.per_row
    bad_combos = []
    for i, group in enumerate(side.groups):
        if not side.broken[group]:
            continue
        table = f"_broken_{i}"
        cur.execute(f"create temp table {table} ({', '.join(f'{_q(c)} text' for c in group)}) on commit drop")
        arrays = ", ".join("%s::text[]" for _ in group)
        cur.execute(
            f"insert into {table} select * from unnest({arrays})",
            [list(col) for col in zip(*side.broken[group], strict=False)],
        )
        keys = ", ".join(f"coalesce(c.{_q(col)}, chr(1))" for col in group)
        bad_combos.append(f"({keys}) in (select {keys} from {table} c)")
    if not per_row and not bad_combos:
        return 0
    broken = [f"coalesce({', '.join(per_row)}) is not null"] if per_row else []
    by_position = {pos: name for name, pos in header_map.positions.items()}
    as_sent = ", ".join(
        (f"c.{_q(by_position[p])}::text" if p in by_position else "null::text") + f" as f{p + 1}"
        for p in range(width)
    )
    # Found by a SELECT, which PostgreSQL can spread over parallel workers (a DELETE
    # cannot), then taken out by their row addresses.
    cur.execute(f"""select array_agg(c.ctid) from {contract.raw_table} c
                    where c._file_id = {int(file_id)} and ({" or ".join(broken + bad_combos)})""")
    found = cur.fetchone()[0]
    cur.execute(
        f"""create temp table _taken_back on commit drop as
                    with broken as (
                        delete from {contract.raw_table} c where c.ctid = any(%s::tid[])
                        returning c._source_row as _row, {as_sent})
                    select * from broken""",
        (found or [],),
    )
    cur.execute(
        f"insert into _landing (_row, {', '.join(validation.landing_columns(width))}) "
        "select * from _taken_back"
    )
    return cur.rowcount


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
