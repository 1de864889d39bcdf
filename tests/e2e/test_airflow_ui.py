"""A fresh demo as a person meets it: `xinyong run` on a terminal shows its steps moving, and
`xinyong airflow` serves Airflow's UI, where one logs in and finds the DAGs and the run."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.conftest import free_port
from xinyong.ingest import contracts

pytestmark = pytest.mark.e2e
XINYONG = str(Path(sys.executable).parent / "xinyong")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
STARTUP_TIMEOUT = 600


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The sample district generated and run once, with stdout taken for a terminal."""
    root = tmp_path_factory.mktemp("airflow-ui")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "XINYONG"))},
        "XINYONG_HOME": str(root / "home"),
        "XINYONG_LANDING": str(root / "landing"),
        "XINYONG_PG_PORT": str(free_port()),
        "XINYONG_EVALUATION_DATE": "2026-11-22",
        "TTY_COMPATIBLE": "1",  # rich draws its progress as on a terminal
        "COLUMNS": "140",
    }
    subprocess.run(
        [XINYONG, "generate", "--scale", "sample", "--seed", "7", "--out", env["XINYONG_LANDING"]],
        env=env,
        check=True,
        capture_output=True,
    )
    run = subprocess.run([XINYONG, "run"], env=env, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (root / "run-on-a-terminal.txt").write_text(run.stdout)  # to look at with `less -R`
    yield root, env, ANSI.sub("", run.stdout)
    subprocess.run([XINYONG, "db", "stop"], env=env, capture_output=True)


def test_run_on_a_terminal_shows_each_step_with_its_counts(demo):
    _, _, out = demo
    lines = out.replace("\r", "\n").splitlines()

    def final(step: str) -> str:  # the line a finished step leaves, once
        done = [line for line in lines if line.strip().startswith(step) and re.search(r" in \d+\.\ds$", line)]
        assert len(done) == 1, f"{step!r} finished {len(done)} times in:\n{out[-3000:]}"
        return done[0]

    dbt = re.search(r"(\d+)/(\d+)\s+nodes", final("dbt build"))
    assert dbt and dbt[1] == dbt[2] and int(dbt[2]) > 50, final("dbt build")
    gx = re.search(r"(\d+)/(\d+)\s+validations", final("GX gate"))
    assert gx and gx[1] == gx[2] and int(gx[2]) >= 3, final("GX gate")
    for feed in ("entity_register", "tax_credit"):
        line = final(f"ingest {feed}")
        files = re.search(r"(\d+)/(\d+)\s+files,?\s+([\d,]+) rows loaded", line)
        assert files and files[1] == files[2] and int(files[3].replace(",", "")) > 0, line
    assert "publication 1 is live" in out


def cdp(ws, method: str, **params):
    """One Chrome DevTools Protocol call; events in between are skipped."""
    cdp.calls = getattr(cdp, "calls", 0) + 1
    ws.send(json.dumps({"id": cdp.calls, "method": method, "params": params}))
    while True:
        message = json.loads(ws.recv(timeout=60))
        if message.get("id") == cdp.calls:
            assert "error" not in message, message
            return message["result"]


def page_text_with(ws, wanted: list[str], timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = cdp(ws, "Runtime.evaluate", expression="document.body.innerText")["result"].get("value", "")
        if all(w in text for w in wanted) or time.monotonic() > deadline:
            return text
        time.sleep(1)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed: run scripts/install_chromium.sh")
def test_airflow_ui_shows_the_dags_and_the_demo_run_after_logging_in(demo, tmp_path):
    root, env, _ = demo
    port = free_port()
    log = root / "xinyong-airflow.log"
    with log.open("w") as out:
        airflow = subprocess.Popen(
            [XINYONG, "airflow", "--port", str(port)],
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    browser = None
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while "log in as" not in log.read_text():
            assert airflow.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(2)
        said = log.read_text()
        assert f"Airflow UI: http://127.0.0.1:{port}/" in said
        password = re.search(r"log in as admin, password (\S+)", said)[1]

        base = f"http://127.0.0.1:{port}"
        token = httpx.post(f"{base}/auth/token", json={"username": "admin", "password": password}, timeout=60)
        assert token.status_code == 201, token.text
        wrong = httpx.post(f"{base}/auth/token", json={"username": "admin", "password": "x"}, timeout=60)
        assert wrong.status_code == 401
        api = httpx.Client(base_url=f"{base}/api/v2", timeout=60)
        api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        expected = {f"ingest_{feed}" for feed in contracts.load_all()} | {"credit_warehouse"}
        while not expected <= {d["dag_id"] for d in api.get("/dags", params={"limit": 100}).json()["dags"]}:
            assert time.monotonic() < deadline, "the DAG processor did not list every DAG"
            time.sleep(3)
        runs = api.get("/dags/credit_warehouse/dagRuns").json()["dag_runs"]
        assert [r["state"] for r in runs] == ["success"], runs

        debug_port = free_port()
        browser = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                f"--user-data-dir={tmp_path / 'profile'}",
                f"--remote-debugging-port={debug_port}",
                "--window-size=1400,900",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while True:
            try:
                pages = httpx.get(f"http://127.0.0.1:{debug_port}/json/list", timeout=5).json()
                target = next(p for p in pages if p["type"] == "page")
                break
            except (httpx.TransportError, StopIteration):
                assert time.monotonic() < deadline and browser.poll() is None
                time.sleep(0.5)
        with connect(target["webSocketDebuggerUrl"], max_size=None) as ws:
            # Logged in as the UI is after its login form: the token in the `_token` cookie.
            cdp(ws, "Network.enable")
            cdp(ws, "Network.setCookie", name="_token", value=token.json()["access_token"], url=base + "/")
            cdp(ws, "Page.navigate", url=f"{base}/dags")
            text = page_text_with(ws, sorted(expected))
            assert all(dag in text for dag in expected), text[:2000]
            cdp(ws, "Page.navigate", url=f"{base}/dags/credit_warehouse/runs")
            text = page_text_with(ws, ["1 Dag Run", "Success"])
            assert "1 Dag Run" in text and "Success" in text, text[:2000]
            shot = base64.b64decode(cdp(ws, "Page.captureScreenshot", format="png")["data"])
        (tmp_path / "airflow-credit-warehouse-runs.png").write_bytes(shot)  # as in docs/img/
        assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 20_000

        # Schedulable: unpaused, a DAG gets its scheduled run, whose first task the scheduler
        # hands to the LocalExecutor (the sensor finds no file and waits, rescheduled).
        assert api.patch("/dags/ingest_tax_credit", json={"is_paused": False}).is_success
        while True:
            runs = api.get("/dags/ingest_tax_credit/dagRuns", params={"run_type": "scheduled"}).json()
            states = {
                ti["task_id"]: ti["state"]
                for run in runs["dag_runs"]
                for ti in api.get(
                    f"/dags/ingest_tax_credit/dagRuns/{run['dag_run_id']}/taskInstances"
                ).json()["task_instances"]
            }
            if states.get("wait_for_files") in ("up_for_reschedule", "success", "skipped"):
                break
            assert time.monotonic() < deadline + 300, states
            time.sleep(3)
    finally:
        if browser:
            browser.kill()
            browser.wait()
        airflow.send_signal(signal.SIGTERM)
        airflow.wait(timeout=120)
    assert "stopping Airflow" in log.read_text()
