"""The demo, end to end through the `xinyong` command: generate, run through Airflow, rerun."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from synthetic.manifest import MANIFEST_NAME
from tests.conftest import free_port, query

pytestmark = pytest.mark.e2e
XINYONG = str(Path(sys.executable).parent / "xinyong")


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    env = {
        **os.environ,
        "XINYONG_HOME": str(root / "home"),
        "XINYONG_LANDING": str(root / "landing"),
        "XINYONG_PG_PORT": str(free_port()),
        "XINYONG_EVALUATION_DATE": "2026-11-22",
    }
    for key in [k for k in env if k.startswith("AIRFLOW")] + ["XINYONG_WAREHOUSE_URL"]:
        env.pop(key, None)
    subprocess.run(
        [XINYONG, "generate", "--scale", "sample", "--seed", "7", "--out", env["XINYONG_LANDING"]],
        env=env,
        check=True,
        capture_output=True,
    )
    yield root, env
    subprocess.run([XINYONG, "db", "stop"], env=env, capture_output=True)


def run(env, *args):
    return subprocess.run([XINYONG, *args], env=env, capture_output=True, text=True, timeout=900)


def test_run_publishes_one_profile_per_generated_entity_then_rerun_changes_nothing(district):
    root, env = district
    manifest = json.loads((root / "landing" / MANIFEST_NAME).read_text(encoding="utf-8"))
    first = run(env, "run")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "publication 1 is live" in first.stdout
    assert "no feed takes up" not in first.stdout  # the generator leaves nothing unknown in landing
    # stdout is no terminal here: no progress lines (tests/e2e/test_airflow_ui.py forces one)
    assert not re.search(r"\d+/\d+ (files|nodes|validations)", first.stdout), first.stdout
    url = run(env, "db", "url").stdout.strip()
    profile = query(url, "select tier, count(*) from publish.entity_credit_profile group by tier")
    assert sum(n for _, n in profile) == manifest["expected_entities"]
    assert {t for t, _ in profile} <= {"A", "B", "C", "D"} and len(profile) >= 3
    files = query(url, "select status, count(*) from audit.feed_files group by status")
    assert dict(files).get("duplicate") == 1  # the generator drops one file twice
    unbalanced = query(
        url, "select count(*) from audit.feed_files where rows_read <> rows_loaded + rows_rejected"
    )
    assert unbalanced == [(0,)]
    # only the half-written file is left in the landing folder
    left = [p.name for p in (root / "landing").rglob("*") if p.is_file() and p.name != MANIFEST_NAME]
    assert all(name.endswith((".part", ".tmp")) for name in left), left

    second = run(env, "run")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "no new data: publication 1 stays as it was" in second.stdout
    assert query(url, "select count(*) from audit.publications") == [(1,)]

    status = run(env, "status")
    assert status.returncode == 0 and "publication 1 live" in status.stdout
