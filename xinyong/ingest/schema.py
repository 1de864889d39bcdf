"""The raw tables of the feeds, derived from their contracts, on top of the runtime's schema."""

from __future__ import annotations

from xinyong.ingest import contracts
from xinyong.runtime import warehouse


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


def ensure(conn) -> None:
    """Create (idempotently) the runtime's schema and every feed's raw table."""
    warehouse.bootstrap(conn)
    with conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('xinyong.bootstrap'))")
        for contract in contracts.load_all().values():
            cur.execute(raw_table_ddl(contract))
            _move_row_hashes_to_digests(cur, contract)


def _move_row_hashes_to_digests(cur, contract: contracts.Contract) -> None:
    """Warehouses from before raw.personal_id_digests kept a `<column>_hash` on every row: keep
    the digests, drop the columns (and the staging views over them, which the next build
    recreates)."""
    for name in contract.personal_ids:
        cur.execute(
            """select 1 from information_schema.columns
                       where table_schema = 'raw' and table_name = %s and column_name = %s""",
            (contract.feed, f"{name}_hash"),
        )
        if cur.fetchone():
            cur.execute(f"""insert into raw.personal_id_digests (id_value, digest)
                            select distinct on ({name}) {name}, {name}_hash from {contract.raw_table}
                            where {name}_hash is not null
                              and not exists (select 1 from raw.personal_id_digests d where d.id_value = {name});
                            alter table {contract.raw_table} drop column {name}_hash cascade""")
