"""Warehouse access: the one URL, connections, and the schema the platform owns."""
from __future__ import annotations

from contextlib import contextmanager
from importlib import resources
from urllib.parse import urlsplit

import psycopg2
import psycopg2.extensions

from xinyong import config, contracts, embedded

MIN_SERVER_VERSION = 130000


class WarehouseError(RuntimeError):
    """A problem a person can fix, stated in one sentence."""


def url(settings: config.Settings | None = None) -> str:
    """The warehouse URL: XINYONG_WAREHOUSE_URL, or the embedded server (started if needed)."""
    settings = settings or config.load()
    if settings.warehouse_url:
        return settings.warehouse_url
    return embedded.ensure_running(settings.home, settings.embedded_port).url("xinyong")


def url_parts(warehouse_url: str) -> dict:
    """Host, port, user, password and database of a URL, for dbt's profile."""
    parts = urlsplit(warehouse_url.replace("postgresql+psycopg2://", "postgresql://"))
    return {
        "host": parts.hostname or "127.0.0.1", "port": str(parts.port or 5432),
        "user": parts.username or "postgres", "password": parts.password or "",
        "dbname": parts.path.lstrip("/") or "postgres",
    }


def connect(warehouse_url: str | None = None) -> psycopg2.extensions.connection:
    target = warehouse_url or url()
    try:
        conn = psycopg2.connect(target.replace("postgresql+psycopg2://", "postgresql://"))
    except psycopg2.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise WarehouseError(f"Cannot connect to the warehouse at {_redact(target)}: {first}") from None
    if conn.server_version < MIN_SERVER_VERSION:
        raise WarehouseError(f"The warehouse runs PostgreSQL {conn.server_version // 10000}; Xinyong needs 13 or newer.")
    return conn


@contextmanager
def transaction(warehouse_url: str | None = None):
    conn = connect(warehouse_url)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def _redact(target: str) -> str:
    parts = urlsplit(target)
    if parts.password:
        return target.replace(f":{parts.password}@", ":***@")
    return target


def _sql(name: str) -> str:
    return resources.files("xinyong.sql").joinpath(name).read_text(encoding="utf-8")


def raw_table_ddl(contract: contracts.Contract) -> str:
    cols = ",\n    ".join(f"{c.name} {c.sql_type}" for c in contract.columns)
    return f"""create table if not exists {contract.raw_table} (
    {cols},
    _extra jsonb,
    _file_id bigint not null,
    _source_file text not null,
    _source_row bigint not null,
    _as_of date not null,
    _loaded_at timestamptz not null default now()
);
-- Files are appended one after another, so a block-range index finds a file's rows at a
-- fraction of a B-tree's upkeep during the bulk COPY (the B-tree it replaces is dropped).
drop index if exists raw.{contract.feed}_file;
create index if not exists {contract.feed}_file_range on {contract.raw_table} using brin (_file_id)
    with (autosummarize = on);"""


def bootstrap(conn) -> None:
    """Create (idempotently) what the platform owns: functions, audit tables, raw tables."""
    with conn.cursor() as cur:
        # One bootstrap at a time: concurrent `create ... if not exists` can still collide.
        cur.execute("select pg_advisory_xact_lock(hashtext('xinyong.bootstrap'))")
        cur.execute(_sql("functions.sql"))
        cur.execute(_sql("bootstrap.sql"))
        for contract in contracts.load_all().values():
            cur.execute(raw_table_ddl(contract))
            _move_row_hashes_to_digests(cur, contract)


def _move_row_hashes_to_digests(cur, contract: contracts.Contract) -> None:
    """Warehouses from before raw.personal_id_digests kept a `<column>_hash` on every row: keep
    the digests, drop the columns (and the staging views over them, which the next build
    recreates)."""
    for name in contract.personal_ids:
        cur.execute("""select 1 from information_schema.columns
                       where table_schema = 'raw' and table_name = %s and column_name = %s""",
                    (contract.feed, f"{name}_hash"))
        if cur.fetchone():
            cur.execute(f"""insert into raw.personal_id_digests (id_value, digest)
                            select distinct on ({name}) {name}, {name}_hash from {contract.raw_table}
                            where {name}_hash is not null
                              and not exists (select 1 from raw.personal_id_digests d where d.id_value = {name});
                            alter table {contract.raw_table} drop column {name}_hash cascade""")
