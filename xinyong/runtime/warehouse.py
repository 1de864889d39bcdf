"""Warehouse access: the one URL, connections, and the schema the platform owns."""
from __future__ import annotations

from contextlib import contextmanager
from importlib import resources
from urllib.parse import urlsplit

import psycopg2
import psycopg2.extensions

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
    return resources.files("xinyong.runtime.sql").joinpath(name).read_text(encoding="utf-8")


def bootstrap(conn) -> None:
    """Create (idempotently) what the runtime owns: the xy functions and the audit tables.
    The raw tables of the feeds are the ingest's (`xinyong.ingest.schema.ensure`)."""
    with conn.cursor() as cur:
        # One bootstrap at a time: concurrent `create ... if not exists` can still collide.
        cur.execute("select pg_advisory_xact_lock(hashtext('xinyong.bootstrap'))")
        cur.execute(_sql("functions.sql"))
        cur.execute(_sql("bootstrap.sql"))
