"""Xinyong on a PostgreSQL that is not the embedded one, through XINYONG_WAREHOUSE_URL only.

Uses the distribution's PostgreSQL 15 when the machine has one (the oldest major version
we support is 13); skipped elsewhere.
"""

import glob
import shutil
import subprocess
from pathlib import Path

import psycopg2
import pytest

from tests.conftest import EVALUATION_DATE, drop_samples, free_port, query
from xinyong import ingest
from xinyong.app import pipeline
from xinyong.ingest import contracts
from xinyong.runtime import embedded, warehouse

pytestmark = pytest.mark.integration
CANDIDATES = sorted(glob.glob("/usr/lib/postgresql/1[3-7]/bin"))
ADMIN_PASSWORD, PLATFORM_PASSWORD = "admin secret", "p@ss:w/rd%"


@pytest.fixture
def other_server(tmp_path):
    """A PostgreSQL that asks every role for a password, where the platform's role is no
    superuser: it may create roles (the consumers') and owns its database, as an operator
    would set it up (README, "Deploying on a server of your own")."""
    if not CANDIDATES:
        pytest.skip("no distribution PostgreSQL 13-17 on this machine")
    bin_dir = Path(CANDIDATES[0])
    data, port = tmp_path / "pg15", free_port()
    run_as = embedded._run_as()
    data.mkdir()
    pwfile = data / "admin_password"
    pwfile.write_text(ADMIN_PASSWORD)
    if run_as:
        embedded._grant_traversal(data)
        shutil.chown(data, user=embedded.SYSTEM_USER)
        shutil.chown(pwfile, user=embedded.SYSTEM_USER)
    subprocess.run(
        [
            bin_dir / "initdb",
            "-D",
            data / "data",
            "-U",
            "admin",
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
        ],
        check=True,
        capture_output=True,
        **run_as,
    )
    subprocess.run(
        [
            bin_dir / "pg_ctl",
            "-D",
            data / "data",
            "-l",
            data / "log",
            "-w",
            "-o",
            f"-p {port} -h 127.0.0.1 -k ''",
            "start",
        ],
        check=True,
        capture_output=True,
        **run_as,
    )
    admin = psycopg2.connect(
        host="127.0.0.1", port=port, user="admin", password=ADMIN_PASSWORD, dbname="postgres"
    )
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("create role xinyong login createrole password %s", (PLATFORM_PASSWORD,))
        cur.execute("create database credit owner xinyong")
    admin.close()
    yield warehouse.url_from_parts(
        host="127.0.0.1", port=port, user="xinyong", password=PLATFORM_PASSWORD, dbname="credit"
    )
    subprocess.run(
        [bin_dir / "pg_ctl", "-D", data / "data", "-m", "immediate", "stop"], capture_output=True, **run_as
    )


def test_samples_ingest_build_gate_publish_on_another_server(other_server, settings, monkeypatch):
    monkeypatch.setenv("XINYONG_WAREHOUSE_URL", other_server)
    monkeypatch.setenv("XINYONG_EVALUATION_DATE", "2026-11-22")
    drop_samples(settings.landing)
    for contract in contracts.load_all().values():
        ingest.ingest_feed(contract, settings, other_server)
    published = pipeline.publish_candidate(
        pipeline.audit_candidate(pipeline.build_candidate(EVALUATION_DATE))
    )
    assert published["row_counts"]["entity_credit_profile"] == 30
    version = query(other_server, "show server_version_num")[0][0]
    assert int(version) < 180000  # really not the embedded PostgreSQL 18
    assert query(other_server, "select count(*) from publish.entity_credit_profile") == [(30,)]
    assert query(other_server, "select rolsuper from pg_roles where rolname = current_user") == [(False,)]
