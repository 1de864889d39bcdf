"""The embedded PostgreSQL: reuse, stale state and a taken port, each with a plain message;
passwords for every role, a platform role that is no superuser, and the earlier layout migrated."""

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from tests.conftest import free_port
from xinyong.publication import roles
from xinyong.runtime import embedded

pytestmark = pytest.mark.integration
XINYONG = str(Path(sys.executable).parent / "xinyong")


def test_start_reuse_and_recover_from_a_stale_pid_file(tmp_path):
    port = free_port()
    server = embedded.ensure_running(tmp_path, port)
    try:
        again = embedded.ensure_running(tmp_path, port)  # a running server is reused
        assert again.url() == server.url()
        assert embedded.stop(tmp_path)
        # a killed server leaves postmaster.pid behind; the next start must not trip on it
        pid_file = server.data_dir / "postmaster.pid"
        pid_file.write_text("999999\n" + str(server.data_dir) + "\n0\n" + str(port) + "\n")
        embedded.ensure_running(tmp_path, port)
        import psycopg2

        psycopg2.connect(server.url()).close()
        assert_sized_settings(server)
    finally:
        embedded.stop(tmp_path)


_UNITS = {"kB": 1024, "8kB": 8192, "MB": 1 << 20, "GB": 1 << 30, "s": 1, "min": 60}


def _amount(value: str, unit: str | None = None) -> float | str:
    """A setting in bytes or seconds: a declared '4GB' or '15min', or pg_settings' number in its
    unit; any other value as it is."""
    if unit:
        return float(value) * _UNITS[unit]
    for suffix in ("min", "MB", "GB", "s"):
        if value.endswith(suffix) and value[: -len(suffix)].isdigit():
            return int(value[: -len(suffix)]) * _UNITS[suffix]
    return value


def assert_sized_settings(server):
    """The running server has the declared settings, sized to this machine's RAM and cores."""
    import os

    import psutil

    declared = embedded.server_settings()
    ram, cores = psutil.virtual_memory().total, len(os.sched_getaffinity(0))
    assert declared == embedded.server_settings(ram, cores)
    assert _amount(declared["shared_buffers"]) == min(ram // 4 // (1 << 20), 2048) * (1 << 20)
    assert declared["max_parallel_workers"] == str(cores)
    assert declared["synchronous_commit"] == "on"
    with psycopg2.connect(server.url("postgres", embedded.SUPERUSER)) as conn, conn.cursor() as cur:
        cur.execute("select name, setting, unit from pg_settings where name = any(%s)", (list(declared),))
        running = {name: _amount(setting, unit) for name, setting, unit in cur.fetchall()}
    conn.close()
    assert running == {name: _amount(value) for name, value in declared.items()}
    # sized to the machine, not constants: a smaller machine gets smaller values
    small = embedded.server_settings(2 << 30, 1)
    assert small["shared_buffers"] == "512MB" and small["work_mem"] == "4MB"
    assert small["max_parallel_workers"] == "1" and small["max_worker_processes"] == "8"


def test_a_taken_port_is_one_sentence_not_a_traceback(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = subprocess.run(
            [XINYONG, "db", "start"],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", "XINYONG_HOME": str(tmp_path), "XINYONG_PG_PORT": str(port)},
        )
    assert result.returncode == 2
    assert f"Port {port} on 127.0.0.1 is taken" in result.stderr and "XINYONG_PG_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_warehouse_url_is_one_sentence(tmp_path):
    result = subprocess.run(
        [XINYONG, "status"],
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "XINYONG_HOME": str(tmp_path),
            "XINYONG_WAREHOUSE_URL": f"postgresql://x:secret@127.0.0.1:{free_port()}/db",
        },
    )
    assert result.returncode == 2
    assert "Cannot connect to the warehouse at postgresql://x:***@127.0.0.1" in result.stderr
    assert "secret" not in result.stderr and "Traceback" not in result.stderr


def refused(**params) -> str:
    """The server's reason for refusing a connection ("" if it let it in)."""
    try:
        psycopg2.connect(host="127.0.0.1", **params).close()
    except psycopg2.OperationalError as exc:
        return str(exc)
    return ""


def modes(folder: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mode & 0o777 for path in [folder, *folder.iterdir()]}


def test_every_role_needs_its_password_and_the_platform_is_no_superuser(tmp_path, monkeypatch):
    port = free_port()
    monkeypatch.setenv("XINYONG_HOME", str(tmp_path))
    monkeypatch.setenv("XINYONG_PG_PORT", str(port))
    monkeypatch.delenv("XINYONG_WAREHOUSE_URL", raising=False)
    server = embedded.ensure_running(tmp_path, port)
    try:
        assert "trust" not in (server.data_dir / "pg_hba.conf").read_text()
        for role in ("xinyong", "xinyong_admin"):
            assert "no password supplied" in refused(port=port, user=role, dbname="postgres")
            assert "password authentication failed" in refused(
                port=port, user=role, dbname="postgres", password="guess"
            )
        with psycopg2.connect(server.url()) as conn, conn.cursor() as cur:
            cur.execute(
                "select rolsuper, rolcreatedb, rolcreaterole from pg_roles where rolname = current_user"
            )
            assert cur.fetchone() == (False, False, True)
            cur.execute(
                "select pg_get_userbyid(datdba) from pg_database where datname in ('xinyong', 'airflow')"
            )
            assert cur.fetchall() == [("xinyong",), ("xinyong",)]
            # what the platform does on the embedded server: a consumer role with its own password
            roles.ensure_roles(cur, ["bi_reader"])
            cur.execute(
                "create table granted (n int); create table withheld (n int); "
                "grant select on granted to bi_reader"
            )
        conn.close()
        assert modes(tmp_path / "secrets") == {
            "secrets": 0o700,
            "role_xinyong": 0o600,
            "role_xinyong_admin": 0o600,
            "role_bi_reader": 0o600,
        }
        assert "no password supplied" in refused(port=port, user="bi_reader", dbname="xinyong")
        assert "password authentication failed" in refused(
            port=port, user="bi_reader", dbname="xinyong", password=server.password("xinyong")
        )
        reader_url = roles.reader_url("bi_reader")
        assert reader_url == server.url("xinyong", "bi_reader")
        with psycopg2.connect(reader_url) as conn, conn.cursor() as cur:
            cur.execute("select count(*) from granted")
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("select count(*) from withheld")
        conn.close()
        # the admin account still does what the platform may not
        server.admin("alter system set log_min_duration_statement = -1", "select pg_reload_conf()")
    finally:
        embedded.stop(tmp_path)


def test_a_data_folder_of_the_earlier_layout_is_migrated(tmp_path):
    """Made as before passwords: one superuser `xinyong`, every local connection trusted, a
    consumer role without a password, a running server. The next start keeps every row and
    hands each object to a `xinyong` that is no superuser."""
    port, base = free_port(), tmp_path / "pg"
    base.mkdir()
    if embedded._run_as():
        embedded._grant_traversal(base)
        shutil.chown(base, user=embedded.SYSTEM_USER)
    data = base / "data"
    embedded._pg(
        "initdb", "-D", str(data), "-U", "xinyong", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"
    )
    (base / "postgres.log").touch()
    if embedded._run_as():
        shutil.chown(base / "postgres.log", user=embedded.SYSTEM_USER)
    embedded._pg(
        "pg_ctl",
        "-D",
        str(data),
        "-l",
        str(base / "postgres.log"),
        "-w",
        "-o",
        f"-p {port} -h 127.0.0.1 -k ''",
        "start",
    )
    try:
        old = psycopg2.connect(host="127.0.0.1", port=port, user="xinyong", dbname="postgres")
        old.autocommit = True
        with old.cursor() as cur:
            for statement in (
                "create database xinyong",
                "create database airflow",
                "create role bi_reader login",
            ):
                cur.execute(statement)
        old.close()
        with (
            psycopg2.connect(host="127.0.0.1", port=port, user="xinyong", dbname="xinyong") as old,
            old.cursor() as cur,
        ):
            cur.execute("""create schema raw; create type raw.grade as enum ('A', 'D');
                           create table raw.tax (id serial primary key, grade raw.grade);
                           insert into raw.tax (grade) values ('A'), ('D');
                           create view raw.tax_view as select * from raw.tax;
                           create function raw.twice(n int) returns int language sql as 'select 2 * n';
                           grant usage on schema raw to bi_reader; grant select on raw.tax to bi_reader""")
        old.close()

        server = embedded.ensure_running(tmp_path, port)
        assert embedded.ensure_running(tmp_path, port) == server  # and once migrated, a plain start

        assert "trust" not in (data / "pg_hba.conf").read_text()
        assert "no password supplied" in refused(port=port, user="xinyong", dbname="xinyong")
        assert "no password supplied" in refused(port=port, user="bi_reader", dbname="xinyong")
        with psycopg2.connect(server.url()) as conn, conn.cursor() as cur:
            cur.execute("select rolname, rolsuper from pg_roles where rolname like 'xinyong%' order by 1")
            assert cur.fetchall() == [("xinyong", False), ("xinyong_admin", True)]
            cur.execute("insert into raw.tax (grade) values ('A')")  # its sequence came along
            cur.execute("select raw.twice(count(*)::int) from raw.tax_view")
            assert cur.fetchone() == (6,)
            cur.execute("""alter table raw.tax add column note text; alter type raw.grade add value 'B';
                           create or replace view raw.tax_view as select id, grade, 1 as one from raw.tax;
                           alter function raw.twice(int) rename to double""")
        conn.close()
        with psycopg2.connect(server.url("xinyong", "bi_reader")) as conn, conn.cursor() as cur:
            cur.execute("select count(*) from raw.tax")
            assert cur.fetchone() == (3,)
        conn.close()
        with psycopg2.connect(server.url()) as conn, conn.cursor() as cur:
            cur.execute("drop schema raw cascade")
        conn.close()
        assert modes(tmp_path / "secrets") == {
            "secrets": 0o700,
            "role_xinyong": 0o600,
            "role_xinyong_admin": 0o600,
            "role_bi_reader": 0o600,
        }
    finally:
        embedded.stop(tmp_path)


def test_text_sorts_by_code_point_with_the_builtin_provider(warehouse_url):
    """The platform's database compares text bytewise (PostgreSQL's builtin C.UTF-8), which sorts
    as libc's C.UTF-8 did (by code point) but lets sorts on text keys use abbreviated keys."""
    conn = psycopg2.connect(warehouse_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select datlocprovider, datlocale from pg_database where datname = current_database()"
            )
            assert cur.fetchone() == ("b", "C.UTF-8")
            cur.execute("select array_agg(t order by t) from unnest(array['b', 'a', 'B', '信', 'é', 'Z']) t")
            assert cur.fetchone()[0] == ["B", "Z", "a", "b", "é", "信"]
    finally:
        conn.close()
