"""The embedded PostgreSQL: reuse, stale state and a taken port, each with a plain message."""
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port
from xinyong.runtime import embedded

pytestmark = pytest.mark.integration
XINYONG = str(Path(sys.executable).parent / "xinyong")


def test_start_reuse_and_recover_from_a_stale_pid_file(tmp_path):
    port = free_port()
    server = embedded.ensure_running(tmp_path, port)
    try:
        again = embedded.ensure_running(tmp_path, port)       # a running server is reused
        assert again.url() == server.url()
        assert embedded.stop(tmp_path)
        # a killed server leaves postmaster.pid behind; the next start must not trip on it
        pid_file = server.data_dir / "postmaster.pid"
        pid_file.write_text("999999\n" + str(server.data_dir) + "\n0\n" + str(port) + "\n")
        embedded.ensure_running(tmp_path, port)
        import psycopg2
        psycopg2.connect(server.url()).close()
    finally:
        embedded.stop(tmp_path)


def test_a_taken_port_is_one_sentence_not_a_traceback(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = subprocess.run([XINYONG, "db", "start"], capture_output=True, text=True,
                                env={"PATH": "/usr/bin:/bin", "XINYONG_HOME": str(tmp_path),
                                     "XINYONG_PG_PORT": str(port)})
    assert result.returncode == 2
    assert f"Port {port} on 127.0.0.1 is taken" in result.stderr and "XINYONG_PG_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_warehouse_url_is_one_sentence(tmp_path):
    result = subprocess.run([XINYONG, "status"], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "XINYONG_HOME": str(tmp_path),
                                 "XINYONG_WAREHOUSE_URL": f"postgresql://x:secret@127.0.0.1:{free_port()}/db"})
    assert result.returncode == 2
    assert "Cannot connect to the warehouse at postgresql://x:***@127.0.0.1" in result.stderr
    assert "secret" not in result.stderr and "Traceback" not in result.stderr
