"""The key behind the personal ID digests never reaches the database, not even its HMAC pads.

A server of the test's own logs every statement with its parameters (`log_statement =
'all'`, as an operator might set it, or `auto_explain` and `pg_stat_statements` would
record them); files with personal ID numbers go in by the bulk path (plain CSV rows and
the rows it sets aside) and by the general one (XLSX). The log must hold none of the key's
forms, and every digest must be the HMAC-SHA256 of its number under the key."""

import hashlib
import hmac
import logging
import re
import secrets

import pytest

from tests.conftest import drop_samples, free_port, new_database, query
from xinyong import ingest
from xinyong.ingest import contracts
from xinyong.runtime import config, embedded

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def logging_server(tmp_path_factory):
    """An embedded server that logs every statement; yields it and its log file."""
    home = tmp_path_factory.mktemp("logging_pg")
    server = embedded.ensure_running(home, free_port())
    try:
        server.admin("alter system set log_statement = 'all'", "select pg_reload_conf()")
        yield server, home / "pg" / "postgres.log"
    finally:
        embedded.stop(home)


def forms_of(key: bytes) -> dict[str, bytes]:
    """The key and its HMAC pads (RFC 2104, SHA-256's 64-byte block) as they could appear in a log."""
    block = key.ljust(64, b"\0")
    ipad, opad = bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)
    forms = {}
    for name, value in {"key": key, "inner pad": ipad, "outer pad": opad}.items():
        forms[f"{name}, raw"] = value
        forms[f"{name}, hex"] = value.hex().encode()
        forms[f"{name}, HEX"] = value.hex().upper().encode()
        forms[f"{name}, bytea"] = rb"\x" + value.hex().encode()  # as psycopg2 sends a bytes parameter
    return forms


def test_the_key_and_its_pads_never_reach_the_server_log(logging_server, tmp_path, monkeypatch, caplog):
    server, log_file = logging_server
    key = secrets.token_bytes(32)
    monkeypatch.setenv("XINYONG_PERSON_KEY", key.hex())
    landing = tmp_path / "landing"
    drop_samples(landing, ["parking_20261120.csv", "penalty_20261120.csv", "credit_household_20261120.xlsx"])
    caplog.set_level(logging.INFO, logger="xinyong.ingest.loader")
    start = log_file.stat().st_size
    with new_database(server) as url:
        settings = config.Settings(
            home=tmp_path / "home", landing=landing, warehouse_url=url, embedded_port=0, evaluation_date=None
        )
        outcomes = [o for c in contracts.load_all().values() for o in ingest.ingest_feed(c, settings, url)]
        assert {o.file_name: o.status for o in outcomes} == {
            "parking_20261120.csv": "loaded",
            "penalty_20261120.csv": "loaded_with_rejects",
            "credit_household_20261120.xlsx": "loaded",
        }
        ids = {
            i
            for (i,) in query(
                url,
                """select owner_id from raw.parking union select id_number from raw.penalty
                                            where id_number is not null union select id_number from raw.credit_household""",
            )
        }
        digests = dict(query(url, "select id_value, digest from raw.personal_id_digests"))
    # both paths were taken: the CSVs in bulk (the penalty file with rows set aside), the XLSX row by row
    bulk = {
        m.group(1): int(m.group(2))
        for m in re.finditer(
            r"(\w+\.csv): \d+ rows, \d+ plain ones loaded by the bulk path, (\d+) set aside", caplog.text
        )
    }
    assert set(bulk) == {"parking_20261120.csv", "penalty_20261120.csv"} and bulk["penalty_20261120.csv"] > 0
    assert digests.keys() == ids and len(ids) > 30
    assert all(hmac.new(key, i.encode(), hashlib.sha256).hexdigest() == d for i, d in digests.items())

    with log_file.open("rb") as fh:
        fh.seek(start)
        log = fh.read()
    # the log did record the ingest's statements, so its silence about the key means something
    assert b"personal_id_digests" in log and b"statement: " in log
    found = [name for name, form in forms_of(key).items() if form in log]
    assert found == [], f"the server log holds the {', the '.join(found)}"
