"""Warehouse access: the one URL, connections, and the schema the platform owns."""

from __future__ import annotations

from contextlib import contextmanager
from importlib import resources

import psycopg2
import psycopg2.extensions
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from xinyong.runtime import config, embedded

MIN_SERVER_VERSION = 130000


class WarehouseError(RuntimeError):
    """A problem a person can fix, stated in one sentence."""


def url(settings: config.Settings | None = None) -> str:
    """The warehouse URL: XINYONG_WAREHOUSE_URL, or the embedded server (started if needed)."""
    settings = settings or config.load()
    if settings.warehouse_url:
        return settings.warehouse_url
    return embedded.ensure_running(settings.home, settings.embedded_port).url("xinyong")


def table_uri(schema: str, table: str, settings: config.Settings | None = None) -> str:
    """A table's URI as Airflow's postgres provider names tables (`postgres://host:port/db/schema/table`,
    the form its Asset handler accepts), without connecting: the DAG processor calls this while
    parsing, where the embedded server need not run."""
    settings = settings or config.load()
    if settings.warehouse_url:
        parsed = _parsed(settings.warehouse_url)
        host, port, database = parsed.host or "localhost", parsed.port or 5432, parsed.database
    else:
        host, port, database = "127.0.0.1", settings.embedded_port, embedded.DATABASES[0]
    return f"postgres://{host}:{port}/{database}/{schema}/{table}"


# The warehouse URL is parsed here and only here; every consumer gets its own form of it.
# libpq keywords a URL may carry in its query that dbt's profile passes on too (profiles.yml).
DBT_QUERY_PARAMETERS = ("sslmode", "sslcert", "sslkey", "sslrootcert")


def _parsed(warehouse_url: str) -> URL:
    try:
        parsed = make_url(warehouse_url)
    except ArgumentError:
        parsed = None
    if parsed is None or parsed.get_backend_name() != "postgresql":
        raise WarehouseError(
            "The warehouse URL is not a PostgreSQL URL (postgresql://user:password@host:port/database, "
            "with the password percent-encoded)."
        )
    return parsed


def connection_parameters(warehouse_url: str) -> dict[str, str]:
    """libpq keywords for psycopg2: user and password percent-decoded, the query (sslmode, ...) kept.
    What the URL leaves out stays out, so libpq's defaults apply."""
    parsed = _parsed(warehouse_url)
    params = {
        key: str(value)
        for key, value in (
            ("host", parsed.host),
            ("port", parsed.port),
            ("user", parsed.username),
            ("password", parsed.password),
            ("dbname", parsed.database),
        )
        if value not in (None, "")
    }
    for key, value in parsed.query.items():
        if not isinstance(value, str):
            raise WarehouseError(f"The warehouse URL gives {key} more than once; give it once.")
        params[key] = value
    return params


def dbt_profile(warehouse_url: str) -> dict[str, str]:
    """The values dbt_project/profiles.yml reads (as XINYONG_DB_<KEY>): the same connection as
    `connection_parameters`. An empty value means libpq's default, as when the URL omits it."""
    params = connection_parameters(warehouse_url)
    fields = ("host", "port", "user", "password", "dbname", *DBT_QUERY_PARAMETERS)
    unsupported = sorted(set(params) - set(fields))
    if unsupported:
        # Passing them to psycopg2 but not to dbt would connect the two differently.
        raise WarehouseError(
            f"The warehouse URL sets {', '.join(unsupported)}, which dbt's profile does not "
            f"pass on; only {', '.join(DBT_QUERY_PARAMETERS)} may follow the '?'."
        )
    # dbt needs a number for the port; 5432 is libpq's default too.
    return {field: params.get(field, "5432" if field == "port" else "") for field in fields}


def sqlalchemy_url(warehouse_url: str) -> str:
    """The URL for SQLAlchemy (Great Expectations): psycopg2 driver, password re-encoded, query kept."""
    return _parsed(warehouse_url).set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)


def redacted(warehouse_url: str) -> str:
    """The URL with its password as ***, for messages and logs."""
    try:
        return _parsed(warehouse_url).render_as_string(hide_password=True)
    except WarehouseError:
        return "an unreadable URL"  # printing it could print the password


def url_from_parts(
    *,
    host: str | None,
    port: int | None,
    user: str | None,
    password: str | None,
    dbname: str | None,
    query: dict | None = None,
) -> str:
    """A warehouse URL from separate fields (an Airflow Connection), every field encoded for the URL."""
    return URL.create(
        "postgresql",
        username=user or None,
        password=password or None,
        host=host or None,
        port=int(port) if port else None,
        database=dbname or None,
        query={key: str(value) for key, value in (query or {}).items()},
    ).render_as_string(hide_password=False)


def connect(warehouse_url: str | None = None) -> psycopg2.extensions.connection:
    target = warehouse_url or url()
    try:
        conn = psycopg2.connect(**connection_parameters(target))
    except psycopg2.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise WarehouseError(f"Cannot connect to the warehouse at {redacted(target)}: {first}") from None
    if conn.server_version < MIN_SERVER_VERSION:
        raise WarehouseError(
            f"The warehouse runs PostgreSQL {conn.server_version // 10000}; Xinyong needs 13 or newer."
        )
    return conn


@contextmanager
def transaction(warehouse_url: str | None = None):
    conn = connect(warehouse_url)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def _sql(name: str) -> str:
    return resources.files("xinyong.runtime.sql").joinpath(name).read_text(encoding="utf-8")


def bootstrap(conn) -> None:
    """Create (idempotently) what the runtime owns: the xy functions and the audit tables.
    The raw tables of the feeds are the ingest's (`xinyong.ingest.schema.ensure`)."""
    with conn.cursor() as cur:
        # One bootstrap at a time: concurrent `create ... if not exists` can still collide.
        cur.execute("select pg_advisory_xact_lock(hashtext('xinyong.bootstrap'))")
        cur.execute(_sql("functions.sql"))
        cur.execute(_sql("bootstrap.sql"))


def relation_exists(cur, relation: str) -> bool:
    """Whether `relation` (schema-qualified, quoted where needed) exists, asked of the server."""
    cur.execute("select to_regclass(%s) is not null", (relation,))
    return cur.fetchone()[0]
