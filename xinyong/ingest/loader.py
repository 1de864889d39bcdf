"""Ingest department files: read, validate, load good rows, keep bad rows with a reason.

One transaction per file: the raw rows, the rejected rows and the `audit.feed_files`
record commit together or not at all, so a crash mid-file leaves nothing behind and the
rerun starts the file afresh. The same bytes twice are recorded as `duplicate`.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import os
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import psycopg2.errors

from xinyong.ingest import bulk, reports, schema, validation
from xinyong.ingest.contracts import Contract, Limits, load_all
from xinyong.ingest.readers import (
    CopyStream,
    Row,
    TableFile,
    UnreadableFile,
    cell_too_long,
    copy_safe,
    map_header,
)
from xinyong.runtime import config, faults, secrets, warehouse
from xinyong.runtime import progress as run_progress

log = logging.getLogger(__name__)
IN_FLIGHT_SUFFIXES = (".part", ".tmp")
COPY_BATCH_ROWS = 5000
COPY_ENCODINGS = {"utf-8": "UTF8", "utf-8-sig": "UTF8", "gb18030": "GB18030"}
# A message quotes at most this much of any one piece of a department's data (a header):
# a file is never a channel to read something back.
QUOTE_CHARS = 40
QUOTE_ITEMS = 10


def quote(text: str, limit: int = QUOTE_CHARS) -> str:
    """A short, bounded piece of a department's data for a message."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + f"…（共 {len(text)} 字）"


def quote_list(items) -> str:
    items = list(items)
    shown = "、".join(quote(i) for i in items[:QUOTE_ITEMS])
    return shown + (f" 等 {len(items)} 项" if len(items) > QUOTE_ITEMS else "")


class NotALandingFile(ValueError):
    """A path in a landing folder that must not be opened (a link, a device, outside the root)."""


def landing_file_problem(path: Path, landing: Path) -> str | None:
    """Why `path` must not be read, or None for a regular file directly inside its feed
    folder under the landing root. Checked on the path itself (lstat: a symbolic link is
    never followed) and on its real location (no `..`, no linked feed folder)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return "文件在读取前已被移走"
    if stat.S_ISLNK(info.st_mode):
        return "是符号链接，不是普通文件：出于安全原因未读取，请直接上传文件本身"
    if not stat.S_ISREG(info.st_mode):
        return "不是普通文件（目录或特殊文件），未读取"
    root = Path(os.path.realpath(landing))
    if Path(os.path.realpath(path)).parent != root / path.parent.name or path.parent.parent.resolve() != root:
        return "不在接收目录之内（路径含链接或 ..），出于安全原因未读取"
    return None


@dataclass
class FileOutcome:
    feed: str
    file_name: str
    status: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    message: str = ""
    file_id: int | None = None
    report_path: str | None = None

    @property
    def loaded_anything(self) -> bool:
        return self.rows_loaded > 0


def pending_files(landing: Path, feed: str) -> list[Path]:
    """Files ready to ingest: final names only (no `.part`/`.tmp`, no hidden files)."""
    folder = landing / feed
    if folder.is_symlink() or not folder.is_dir():
        return []  # a linked feed folder is not followed (unknown_landing_entries reports it)
    # Links are listed too (is_file() would follow them): they are refused with a reason,
    # never read, rather than silently skipped.
    return sorted(
        p
        for p in folder.iterdir()
        if (p.is_symlink() or p.is_file())
        and not p.name.startswith(".")
        and not p.name.lower().endswith(IN_FLIGHT_SUFFIXES)
    )


def _look(path: Path) -> tuple[int, int] | None:
    """Size and modification time of the entry itself (a link is not followed), None if gone."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    return info.st_size, info.st_mtime_ns


def _quiet(look: tuple[int, int] | None, seconds: float) -> bool:
    """Not modified for `seconds`: as good as a second look that long after the last write."""
    return look is None or time.time_ns() - look[1] >= seconds * 1e9


def settled_files(paths: list[Path], seconds: float) -> tuple[list[Path], list[Path]]:
    """The files whose size and modification time stay the same across two looks `seconds`
    apart, and those still being written (left in landing for a later run, neither recorded
    nor refused). A file nobody has modified for `seconds` needs no second look; a file that
    vanished is kept: its reason is given when it is taken up."""
    first = {path: _look(path) for path in paths}
    recent = [path for path, look in first.items() if not _quiet(look, seconds)]
    if recent:
        time.sleep(seconds)
    growing = [path for path in recent if _look(path) != first[path]]
    return [path for path in paths if path not in growing], growing


def ready_files(feed: str, settings: config.Settings | None = None) -> list[str]:
    """Names of the files the feed's sensor waits for: what `pending_files` would ingest,
    once nobody has written to it for the settle time (a poke does not wait)."""
    settings = settings or config.load()
    return [
        p.name
        for p in pending_files(settings.landing, feed)
        if _quiet(_look(p), settings.landing_settle_seconds)
    ]


def unknown_landing_entries(settings: config.Settings, feeds=None) -> list[tuple[str, str]]:
    """Entries of the landing folder no feed will ever take up, each with why: a folder (or
    link) in the root that is no feed's, a file directly in the root, and inside a feed's
    folder anything that is neither a file nor a link (a subfolder, a pipe). Hidden entries
    are left alone, as inside a feed's folder. Reported, never read, never moved."""
    feeds = set(feeds if feeds is not None else load_all())
    landing = settings.landing
    if not landing.is_dir():
        return []
    found = []
    for entry in sorted(landing.iterdir()):
        if entry.name.startswith("."):
            continue
        name = quote(entry.name)
        if entry.is_symlink():
            found.append((entry.name, f"{name} 是符号链接，不是数据类别目录：其中的文件不会被读取"))
        elif entry.is_dir() and entry.name not in feeds:
            found.append(
                (
                    entry.name,
                    f"目录 {name} 不是任何数据类别（无对应约定 connectors/{name}.yml）：其中的文件不会被读取",
                )
            )
        elif entry.is_dir():
            for inner in sorted(entry.iterdir()):
                if not inner.name.startswith(".") and not inner.is_symlink() and not inner.is_file():
                    found.append(
                        (
                            f"{entry.name}/{inner.name}",
                            f"{entry.name}/{quote(inner.name)} 不是文件（目录或特殊文件）：不会被读取",
                        )
                    )
        elif not entry.is_dir():
            found.append(
                (entry.name, f"文件 {name} 直接放在接收根目录，不属于任何数据类别：请放入对应类别的目录")
            )
    return found


def record_landing_findings(warehouse_url: str, findings: list[tuple[str, str]]) -> None:
    """Keep the landing folder's unknown entries in `audit.landing_findings`: one row per entry,
    seen again -> last_seen moves, gone -> resolved_at is set (see bootstrap.sql)."""
    entries = [entry for entry, _ in findings]
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('xinyong.landing_findings'))")
        for entry, reason in findings:
            cur.execute(
                """insert into audit.landing_findings (entry, reason) values (%s, %s)
                           on conflict (entry) where resolved_at is null
                           do update set reason = excluded.reason, last_seen = now()""",
                (entry, reason),
            )
        cur.execute(
            """update audit.landing_findings set resolved_at = now()
                       where resolved_at is null and not (entry = any(%s))""",
            (entries,),
        )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def ingest_feed(
    contract: Contract,
    settings: config.Settings | None = None,
    warehouse_url: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[FileOutcome]:
    settings = settings or config.load()
    warehouse_url = warehouse_url or warehouse.url(settings)
    outcomes = []
    waiting, growing = settled_files(
        pending_files(settings.landing, contract.feed), settings.landing_settle_seconds
    )
    for path in growing:
        log.info("%s/%s: still being written; left for a later run", contract.feed, path.name)
        if progress:
            progress(
                f"{contract.feed}/{path.name}: still being written (size or time changed "
                f"within {settings.landing_settle_seconds:g}s); left in landing for the next run"
            )
    if waiting:
        with warehouse.transaction(warehouse_url) as conn:
            schema.ensure(conn)
        run_progress.report(
            f"ingest {contract.feed}", 0, len(waiting), "files", rows_loaded=0, rows_rejected=0
        )
    for path in waiting:
        outcome = ingest_file(path, contract, settings, warehouse_url)
        outcomes.append(outcome)
        run_progress.report(
            f"ingest {contract.feed}",
            len(outcomes),
            len(waiting),
            "files",
            rows_loaded=sum(o.rows_loaded for o in outcomes),
            rows_rejected=sum(o.rows_rejected for o in outcomes),
        )
        if progress:
            progress(
                f"{contract.feed}/{outcome.file_name}: {outcome.status} "
                f"(read {outcome.rows_read}, loaded {outcome.rows_loaded}, rejected {outcome.rows_rejected})"
            )
    return outcomes


def ingest_file(path: Path, contract: Contract, settings: config.Settings, warehouse_url: str) -> FileOutcome:
    """Ingest one file into a bootstrapped warehouse (ingest_feed prepares it once per run)."""
    started = dt.datetime.now(dt.UTC)
    limits = contract.limits
    problem = landing_file_problem(path, settings.landing) or _size_problem(path, limits)
    if problem:
        return _refuse(path, contract, settings, warehouse_url, started, problem)
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:  # hashlib lets go of the GIL: both reads at once
            sha_future = pool.submit(sha256_of, path)
            probe = _probe(path, limits)
            sha = sha_future.result()
    except OSError as exc:  # taken away (or made unreadable) after the check above
        return _refuse(
            path,
            contract,
            settings,
            warehouse_url,
            started,
            f"文件在读取时已被移走或无法打开（{exc.strerror or type(exc).__name__}），未加载",
        )
    conn = warehouse.connect(warehouse_url)
    try:
        with conn:
            with conn.cursor() as cur:
                # One loader per feed at a time, so two runs cannot both take the same bytes, and a
                # feed's file ids commit in the order they are taken: the kept staging tables and the
                # gate's names (gates.prepare) read a raw table's new rows as those above an id.
                cur.execute(
                    "select pg_advisory_xact_lock(hashtext(%s))", (f"xinyong.ingest.{contract.feed}",)
                )
                cur.execute(
                    """select file_id, file_name from audit.feed_files
                               where feed = %s and sha256 = %s
                                 and status in ('loaded', 'loaded_with_rejects', 'quarantined')""",
                    (contract.feed, sha),
                )
                seen = cur.fetchone()
                if seen and seen[1] == path.name:
                    # Loaded before, but the move out of landing did not happen (crash): finish it.
                    outcome = FileOutcome(contract.feed, path.name, "already_loaded", file_id=seen[0])
                elif seen:
                    outcome = _record(
                        cur,
                        contract,
                        path.name,
                        sha,
                        None,
                        started,
                        FileOutcome(
                            contract.feed,
                            path.name,
                            "duplicate",
                            message=f"与已接收的文件 {seen[1]} 内容完全相同（SHA-256 一致），未重复加载",
                        ),
                    )
                else:
                    outcome = _load(cur, contract, path, sha, started, settings, probe, warehouse_url)
    except (psycopg2.DataError, psycopg2.errors.ProgramLimitExceeded) as exc:
        # The database refused the content (a byte sequence, a size): the file's transaction
        # is rolled back whole; the file is one bad file, with a reason, and the next goes on.
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return _refuse(
            path,
            contract,
            settings,
            warehouse_url,
            started,
            f"数据库拒绝了文件内容，未加载任何行：{quote(first, 120)}",
            sha=sha,
        )
    except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
        # The warehouse went away (stopped, unreachable) or ran out of disk mid-file: its
        # transaction is gone whole, so nothing of the file is kept; the file stays in
        # landing, unrecorded, and the next run takes it again.
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        what = "ran out of disk space" if isinstance(exc, psycopg2.errors.DiskFull) else "failed"
        raise warehouse.WarehouseError(
            f"The warehouse {what} while loading {contract.feed}/{path.name} ({first}); nothing of the file "
            "was kept and it stays in landing for the next run."
        ) from None
    finally:
        conn.close()
    _move(path, settings, outcome)
    if outcome.status in ("loaded_with_rejects", "quarantined", "unreadable") and outcome.file_id:
        reports.write_department_report(warehouse_url, outcome.file_id, settings)
    log.info("%s/%s: %s", contract.feed, path.name, outcome.status)
    return outcome


def _size_problem(path: Path, limits: Limits) -> str | None:
    """A file bigger than the feed allows is refused on its size alone, before it is opened."""
    try:
        size = os.lstat(path).st_size
    except FileNotFoundError:
        return "文件在读取前已被移走"
    if size > limits.max_file_bytes:
        return (
            f"文件大小 {size / 2**20:,.1f} MB，超过本数据类别 {limits.max_file_mb:g} MB 的上限，未读取；"
            "请拆分后重新上传"
        )
    if size == 0:
        return "文件为空（0 字节），未读取"
    return None


def _refuse(
    path: Path,
    contract: Contract,
    settings: config.Settings,
    warehouse_url: str,
    started,
    problem: str,
    sha: str | None = None,
) -> FileOutcome:
    """Record a landing entry that is not loaded at all (a link is not even read); the entry
    itself (the link, not what it points to) is set apart in quarantine."""
    # Without the file's own hash, the "hash" names the entry, so two refusals never look
    # like a duplicate of real data.
    marker = (
        sha
        or hashlib.sha256(f"refused:{contract.feed}/{path.name}:{started.isoformat()}".encode()).hexdigest()
    )
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        outcome = _record(
            cur,
            contract,
            path.name,
            marker,
            None,
            started,
            FileOutcome(contract.feed, path.name, "unreadable", message=f"{quote(path.name)}：{problem}"),
        )
    if os.path.lexists(path) and _in_feed_folder(path, settings.landing, contract.feed):
        _move(path, settings, outcome)
    reports.write_department_report(warehouse_url, outcome.file_id, settings)
    log.warning("%s/%s: refused: %s", contract.feed, path.name, problem)
    return outcome


def _in_feed_folder(path: Path, landing: Path, feed: str) -> bool:
    """Whether the entry really sits in the feed's folder: only then may the platform move it
    (never a file a `..` or a linked folder leads outside the landing root)."""
    return (
        os.path.realpath(path.parent) == os.path.join(os.path.realpath(landing), feed)
        and not path.parent.is_symlink()
    )


def _record(
    cur,
    contract: Contract,
    file_name: str,
    sha: str,
    as_of,
    started,
    outcome: FileOutcome,
    file_id: int | None = None,
) -> FileOutcome:
    cur.execute(
        """insert into audit.feed_files (file_id, feed, file_name, sha256, as_of, status, rows_read,
               rows_loaded, rows_rejected, message, report_path, started_at)
           values (coalesce(%s, nextval('audit.feed_files_file_id_seq')), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           returning file_id""",
        (
            file_id,
            contract.feed,
            file_name,
            sha,
            as_of,
            outcome.status,
            outcome.rows_read,
            outcome.rows_loaded,
            outcome.rows_rejected,
            outcome.message or None,
            outcome.report_path,
            started,
        ),
    )
    outcome.file_id = cur.fetchone()[0]
    return outcome


@dataclass
class _Probe:
    """What reading the file once told: its encoding (or why it cannot be read) and whether
    COPY may parse it."""

    table: TableFile | None
    error: UnreadableFile | None
    copy_safe: bool


def _probe(path: Path, limits: Limits) -> _Probe:
    try:
        table = TableFile(path, limits)
    except UnreadableFile as exc:
        return _Probe(None, exc, False)
    return _Probe(table, None, table.kind == "csv" and copy_safe(path, table.encoding))


def _load(
    cur, contract: Contract, path: Path, sha: str, started, settings, probe: _Probe, warehouse_url: str
) -> FileOutcome:
    match = contract.file_pattern().match(path.name)
    if not match:
        return _record(
            cur,
            contract,
            path.name,
            sha,
            None,
            started,
            FileOutcome(
                contract.feed,
                path.name,
                "unreadable",
                message=f"文件名不符合约定：应为 {contract.feed}_YYYYMMDD[_序号].csv 或 .xlsx",
            ),
        )
    try:
        as_of = dt.datetime.strptime(match.group(1), "%Y%m%d").date()
    except ValueError:
        return _record(
            cur,
            contract,
            path.name,
            sha,
            None,
            started,
            FileOutcome(
                contract.feed, path.name, "unreadable", message=f"文件名中的日期 {match.group(1)} 不存在"
            ),
        )

    cur.execute("select nextval('audit.feed_files_file_id_seq')")
    file_id = cur.fetchone()[0]

    def report() -> str:
        # Only a file with problems gets a report: a clean one never loads the departments'
        # seed (pydantic and every contract, a second of a fresh process's first file).
        return str(reports.department_report_path(settings, contract.feed, path.name))

    try:
        if probe.error:
            raise probe.error
        table = probe.table
        rows = table.rows(code_positions=set())
        header = next(rows)
        max_columns = contract.limits.max_columns
        if len(header) > max_columns:
            raise UnreadableFile(f"表头有 {len(header):,} 列，超过 {max_columns} 列的上限，未读取")
        header_map = map_header(contract, header)
        if header_map.missing_required:
            # The header alone refuses the file: no data row is read (an XLSX may be huge).
            return _refuse_header(cur, contract, path, sha, as_of, started, file_id, header_map, report())
        cur.execute(validation.landing_ddl(len(header)))
        rows_read, plain = None, None
        csv_for_copy = probe.copy_safe
        if csv_for_copy and settings.bulk_ingest and bulk.eligible(header_map):
            plain = _bulk_load(
                cur,
                contract,
                header_map,
                path,
                table.encoding,
                len(header),
                file_id,
                as_of,
                settings,
                warehouse_url,
            )
            rows_read = plain.rows_read if plain else None
        if rows_read is None and csv_for_copy:
            cur.execute("savepoint copy_file")
            try:
                rows_read = _copy_file(cur, path, table.encoding, len(header), contract.limits)
                cur.execute("release savepoint copy_file")
            except psycopg2.DataError as exc:  # e.g. a ragged row: Python's reader copes, row by row
                log.info(
                    "%s: COPY of the file refused (%s); reading it row by row",
                    path.name,
                    str(exc).strip().splitlines()[0],
                )
                cur.execute("rollback to savepoint copy_file")
        if rows_read is None:
            if table.kind == "xlsx":  # code columns must be text cells; tell the reader where they are
                rows = table.rows(
                    code_positions={
                        header_map.positions[c.name]
                        for c in contract.columns
                        if c.is_code and c.name in header_map.positions
                    }
                )
                next(rows)
            rows_read = _copy_rows(cur, rows, header_map, len(header))
    except UnreadableFile as exc:
        cur.execute("drop table if exists _landing")
        return _record(
            cur,
            contract,
            path.name,
            sha,
            as_of,
            started,
            FileOutcome(
                contract.feed, path.name, "unreadable", message=quote(str(exc), 200), report_path=report()
            ),
            file_id,
        )

    messages = []
    # Type, check and load the good rows in one pass; only if some were left out, list why.
    cur.execute(
        validation.insert_good_rows(contract, header_map),
        {"file_id": file_id, "file_name": path.name, "as_of": as_of},
    )
    loaded = cur.rowcount + (plain.rows_loaded if plain else 0)
    repeated = _reject_repeated_keys(cur, contract, file_id, plain) if loaded > 1 else 0
    loaded -= repeated
    bad_rows = rows_read - loaded
    if bad_rows:
        # After the bulk path `_landing` holds only the rows set aside: list them all.
        # (Rows taken out for a repeated key are listed by `_key_findings`; the rules
        # find nothing in them.)
        left_out = (
            ""
            if plain
            else (
                f"where not exists (select 1 from {contract.raw_table} r "
                f"where r._file_id = {int(file_id)} and r._source_row = l._row)"
            )
        )
        cur.execute(
            f"create temp table _errors on commit drop as "
            f"{validation.errors_select(contract, header_map, left_out)}"
        )
        if repeated:
            cur.execute("insert into _errors select _row, column_name, value, reason from _key_findings")
    if header_map.extra:
        messages.append("未知列已随数据保留：" + quote_list(header_map.extra))
    share = bad_rows / rows_read if rows_read else 0.0
    quarantine = share > contract.reject_threshold
    if quarantine:
        if loaded:  # the good rows went in with the check; the file is set apart whole
            cur.execute(f"delete from {contract.raw_table} where _file_id = %s", (file_id,))
        status, loaded, rejected = "quarantined", 0, rows_read
        messages.insert(
            0, f"错误行占 {share:.1%}，超过 {contract.reject_threshold:.0%} 的退回阈值，整个文件未加载"
        )
    else:
        rejected = rows_read - loaded
        status = "loaded_with_rejects" if rejected else "loaded"
    faults.inject("ingest:before_audit")
    outcome = _record(
        cur,
        contract,
        path.name,
        sha,
        as_of,
        started,
        FileOutcome(
            contract.feed,
            path.name,
            status,
            rows_read,
            loaded,
            rejected,
            message="；".join(messages),
            report_path=report() if status != "loaded" else None,
        ),
        file_id,
    )
    if loaded:
        _count_known_key_updates(cur, contract, file_id, loaded)
        _digest_personal_ids(cur, contract, file_id, settings, plain)
    if bad_rows:
        cur.execute(
            """insert into audit.rejected_rows (file_id, feed, file_name, row_number, column_name, value, reason)
                       select %s, %s, %s, _row, column_name, value, reason from _errors order by _row""",
            (file_id, contract.feed, path.name),
        )
    return outcome


def _refuse_header(
    cur, contract: Contract, path: Path, sha: str, as_of, started, file_id: int, header_map, report: str
) -> FileOutcome:
    """A file missing a required column is set apart whole on its header alone."""
    missing = quote_list(header_map.missing_required)
    outcome = _record(
        cur,
        contract,
        path.name,
        sha,
        as_of,
        started,
        FileOutcome(
            contract.feed,
            path.name,
            "quarantined",
            message=f"缺少必填列：{missing}（整个文件退回，数据行未读取，请核对表头）",
            report_path=report,
        ),
        file_id,
    )
    cur.executemany(
        """insert into audit.rejected_rows (file_id, feed, file_name, row_number, column_name, value, reason)
                       values (%s, %s, %s, 1, %s, null, '缺少必填列（表头被修改或遗漏）')""",
        [(file_id, contract.feed, path.name, header) for header in header_map.missing_required],
    )
    return outcome


def _reject_repeated_keys(cur, contract: Contract, file_id: int, plain: bulk.BulkLoad | None) -> int:
    """Take the file's rows that repeat a key of the same file back out of raw, with their
    findings in `_key_findings` (see validation.repeated_keys); how many rows were taken out."""
    bulk_digests = plain is not None
    candidates = bulk.repeated_key_candidates(cur, contract, file_id, plain) if plain else None
    if candidates == []:
        return 0  # no key can repeat: raw's rows need not be counted
    if candidates:
        cur.execute(
            "create temp table _key_candidates on commit drop as select * from unnest("
            + ", ".join("%s::text[]" for _ in contract.key)
            + ") as k("
            + ", ".join(contract.key)
            + ")",
            [list(column) for column in zip(*candidates, strict=True)],
        )
    find, *rest, take_out = validation.repeated_keys(contract, file_id, candidates and "_key_candidates")
    cur.execute(find)
    if not cur.rowcount:
        return 0
    for statement in rest:
        cur.execute(statement)
    cur.execute(take_out)
    removed = cur.rowcount
    if bulk_digests and contract.personal_ids:
        # The bulk path hashed its plain rows' ID numbers before this judgement: a number
        # only the rows taken out had gets no digest, as on the general path.
        ids = " union ".join(f"select {name} from _key_repeats" for name in contract.personal_ids)
        still_there = " or ".join(f"r.{name} = b.id_value" for name in contract.personal_ids)
        cur.execute(f"""delete from _bulk_digests b where b.id_value in ({ids})
                          and not exists (select 1 from {contract.raw_table} r
                                          where r._file_id = {int(file_id)} and ({still_there}))""")
    return removed


# A file less than this share of its predecessor is checked for being a correction; a
# full-size delivery is not, so the check costs nothing on the daily bulk files.
CORRECTION_CHECK_BELOW = 0.5


def _count_known_key_updates(cur, contract: Contract, file_id: int, loaded: int) -> None:
    """Record how many of a small file's rows update records already known (see bootstrap.sql)."""
    cur.execute(
        """select rows_loaded from audit.feed_files
                   where feed = %s and file_id < %s and status in ('loaded', 'loaded_with_rejects')
                   order by as_of desc, file_id desc limit 1""",
        (contract.feed, file_id),
    )
    previous = cur.fetchone()
    if not previous or loaded >= CORRECTION_CHECK_BELOW * previous[0]:
        return
    same_key = " and ".join(f"p.{k} = r.{k}" for k in contract.key)
    cur.execute(
        f"""update audit.feed_files set rows_updating_known = (
                        select count(*) from {contract.raw_table} r
                        where r._file_id = %(file)s and exists (
                            select 1 from {contract.raw_table} p where p._file_id < %(file)s and {same_key}))
                    where file_id = %(file)s""",
        {"file": file_id},
    )


def _bulk_load(
    cur,
    contract: Contract,
    header_map,
    path: Path,
    encoding: str,
    width: int,
    file_id: int,
    as_of,
    settings,
    warehouse_url: str,
) -> bulk.BulkLoad | None:
    """The bulk path (see bulk.py), or None when the file has to take the general one."""
    cur.execute("savepoint bulk")
    try:
        plain = bulk.load(
            cur,
            contract,
            header_map,
            path,
            encoding,
            width,
            file_id,
            path.name,
            as_of,
            warehouse_url,
            secrets.person_key(settings),
        )
    except (bulk.NotBulk, psycopg2.DataError) as exc:
        log.info(
            "%s: not for the bulk path (%s); reading it whole", path.name, str(exc).strip().splitlines()[0]
        )
        cur.execute("rollback to savepoint bulk")
        return None
    except UnreadableFile:  # past the feed's limits: the file is refused, nothing of it stays
        cur.execute("rollback to savepoint bulk")
        raise
    cur.execute("release savepoint bulk")
    log.info(
        "%s: %d rows, %d plain ones loaded by the bulk path, %d set aside for the general one",
        path.name,
        plain.rows_read,
        plain.rows_loaded,
        plain.rows_set_aside,
    )
    return plain


def _digest_personal_ids(cur, contract: Contract, file_id: int, settings, plain) -> None:
    """The keyed hash of each new personal ID number of the file (see raw.personal_id_digests),
    made in Python: only the digests reach the database, never the key or its HMAC pads."""
    personal = contract.personal_ids
    if not personal:
        return
    cur.execute(validation.DIGESTS_LOCK)
    ids = None
    if plain is not None:
        # The bulk path hashed its rows' numbers while it loaded them (_bulk_digests); the
        # rows it set aside and the general path loaded may add some.
        cur.execute(validation.insert_precomputed_digests("_bulk_digests"))
        if not plain.rows_set_aside:
            return
        ids = " union all ".join(
            f"select r.{name} from {contract.raw_table} r where r._file_id = %(file_id)s "
            f"and r._source_row in (select _row from _landing)"
            for name in personal
        )
    cur.execute(validation.new_id_numbers(contract, ids), {"file_id": file_id})
    numbers = [number for (number,) in cur.fetchall()]
    if numbers:
        validation.copy_digests(
            cur, "raw.personal_id_digests", secrets.id_digests(secrets.person_key(settings), numbers)
        )


def _copy_file(cur, path: Path, encoding: str, width: int, limits: Limits) -> int:
    """The file's bytes straight into COPY: PostgreSQL parses the CSV and converts the encoding.

    Used when `copy_safe` found nothing PostgreSQL's CSV parser reads differently from
    Python's (blank lines, stray quotes); the header line (with any BOM) is skipped by COPY.
    A cell past the feed's limit refuses the file, as the Python and Arrow readers do."""
    columns = validation.landing_columns(width)
    with path.open("rb") as fh:
        cur.copy_expert(
            f"copy _landing ({', '.join(columns)}) from stdin with (format csv, header true, "
            f"encoding '{COPY_ENCODINGS[encoding]}')",
            faults.during_copy(fh),
            size=1 << 20,
        )
    rows = cur.rowcount
    longest = ", ".join(f"length({c})" for c in columns)
    cur.execute(f"select min(_row) from _landing where greatest({longest}) > %s", (limits.max_cell_chars,))
    too_long = cur.fetchone()[0]
    if too_long is not None:
        raise cell_too_long(limits, too_long)
    return rows


def _copy_rows(cur, rows: Iterator, header_map, width: int) -> int:
    """Rows the Python reader produced (XLSX, or CSV PostgreSQL would read otherwise) into COPY."""
    counter = [0]
    columns = ", ".join(validation.landing_columns(width))
    refused: list[UnreadableFile] = []

    def lines():
        try:
            yield from _copy_lines(rows, header_map, width, counter)
        except UnreadableFile as exc:  # psycopg2 turns it into "COPY failed": keep it to raise
            refused.append(exc)
            raise

    cur.execute("savepoint copy_rows")
    try:
        cur.copy_expert(
            f"copy _landing (_row, _reader_errors, {columns}) from stdin with (format csv)",
            faults.during_copy(CopyStream(lines())),
            size=1 << 16,
        )
    except psycopg2.Error:
        if not refused:
            raise
        cur.execute("rollback to savepoint copy_rows")  # the reader refused the file mid-way
        raise refused[0] from None
    cur.execute("release savepoint copy_rows")
    return counter[0]


def _copy_lines(rows: Iterator, header_map, width: int, counter: list[int]) -> Iterator[str]:
    """CSV text for COPY, in batches: row number, reader findings, then the file's cells."""
    code_names = {pos: name for name, pos in header_map.positions.items()}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    n = 0
    padding = [""] * width
    for row in rows:
        row: Row
        cells = row.cells[:width]
        if len(cells) < width:
            cells = cells + padding[len(cells) :]
        flagged = (
            ("," + ",".join(code_names[p] for p in row.numeric_code_cells if p in code_names) + ",")
            if row.numeric_code_cells
            else ""
        )
        writer.writerow([row.number, flagged, *cells])
        n += 1
        if n % COPY_BATCH_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    counter[0] = n
    yield buffer.getvalue()


def _move(path: Path, settings: config.Settings, outcome: FileOutcome) -> None:
    """Processed files leave the landing folder: quarantined or unreadable ones apart."""
    bad = outcome.status in ("quarantined", "unreadable")
    target_dir = (settings.quarantine if bad else settings.archive) / outcome.feed
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / path.name
    if os.path.lexists(target):
        target = target_dir / f"{path.stem}.{outcome.file_id}{path.suffix}"
    shutil.move(str(path), target)
