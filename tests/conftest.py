"""Shared fixtures: a real embedded PostgreSQL for the whole session, a fresh database per test."""

from __future__ import annotations

import shutil
import socket
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest

# The warehouse fixtures (`dbt_project`, `loaded`) for the integration and e2e tests.
pytest_plugins = ["tests.integration.publication_fixtures"]

TESTS = Path(__file__).resolve().parent
SAMPLES = TESTS / "data" / "samples"
# The day the sample tests evaluate (the samples are dated 2026-11-20).
EVALUATION_DATE = "2026-11-22"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_SESSION: dict = {}


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """One embedded PostgreSQL for the test session, in its own folder and port.

    The tests point the platform at it with XINYONG_WAREHOUSE_URL, as at a server of one's
    own, where the platform creates roles without passwords; so the declared consumer roles
    are made here first, with the passwords the embedded server keeps (`role_url`)."""
    from xinyong.publication import roles
    from xinyong.runtime import embedded, warehouse

    home = tmp_path_factory.mktemp("pg_home")
    server = embedded.ensure_running(home, free_port())
    with warehouse.transaction(server.url("postgres")) as conn, conn.cursor() as cur:
        roles.ensure_roles(cur, password=server.password)
    _SESSION["server"] = server
    yield server
    embedded.stop(home)


def role_url(url: str, role: str) -> str:
    """`url` (a database of the session's server) as a consumer's role, with its password."""
    from xinyong.publication import roles

    return roles.reader_url(role, url, password=_SESSION["server"].password(role))


@contextmanager
def new_database(server):
    """A new database with the platform's schema, dropped afterwards; yields its URL."""
    from xinyong.ingest import schema
    from xinyong.runtime import warehouse

    name = f"t_{uuid.uuid4().hex[:12]}"
    server.create_database(name)
    url = server.url(name)
    with warehouse.transaction(url) as conn:
        schema.ensure(conn)
    try:
        yield url
    finally:
        server.admin(f'drop database "{name}" with (force)')


@contextmanager
def ingested_samples(server, home: Path):
    """A new database with the shared samples ingested, the environment pointing at it and
    at `home` (landing, state) and the evaluation date fixed; yields (url, settings).
    For module fixtures that then build and publish as their tests need."""
    from xinyong import ingest
    from xinyong.ingest import contracts
    from xinyong.runtime import config

    with new_database(server) as url, pytest.MonkeyPatch.context() as env:
        env.setenv("XINYONG_HOME", str(home / "home"))
        env.setenv("XINYONG_LANDING", str(home / "landing"))
        env.setenv("XINYONG_WAREHOUSE_URL", url)
        env.setenv("XINYONG_EVALUATION_DATE", EVALUATION_DATE)
        (home / "landing").mkdir()
        settings = config.load()
        drop_samples(settings.landing)
        for contract in contracts.load_all().values():
            ingest.ingest_feed(contract, settings, url)
        yield url, settings


@pytest.fixture
def warehouse_url(pg_server):
    """A new, empty database with the platform's schema, for one test."""
    with new_database(pg_server) as url:
        yield url


@pytest.fixture(scope="module")
def cur(pg_server):
    """An autocommit cursor on a bootstrapped database, for tests of the SQL functions."""
    with new_database(pg_server) as url:
        conn = psycopg2.connect(url)
        conn.autocommit = True
        with conn.cursor() as c:
            yield c
        conn.close()


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Settings pointing at a private landing folder and home."""
    from xinyong.runtime import config

    monkeypatch.setenv("XINYONG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XINYONG_LANDING", str(tmp_path / "landing"))
    (tmp_path / "landing").mkdir()
    return config.load()


def drop_samples(landing: Path, names: list[str] | None = None) -> None:
    """Copy the shared department samples into their feed folders."""
    for path in sorted(SAMPLES.iterdir()):
        if path.suffix not in (".csv", ".xlsx") or (names and path.name not in names):
            continue
        feed = path.name.rsplit("_", 1)[0]
        (landing / feed).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, landing / feed / path.name)


def query(url: str, sql: str, params=None) -> list[tuple]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall() if cur.description else []
    conn.close()
    return rows
