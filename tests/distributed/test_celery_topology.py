"""The production topology without Docker: Redis, PostgreSQL, Airflow's API server,
scheduler and DAG processor, and two Celery workers, each a separate process, run the
daily pipeline triggered through Airflow's REST API.

Each worker has its own UTS namespace and host name, as a container has, so the task
instances' `hostname` tells which worker ran them. The daily schedule is switched off
(`use_job_schedule`): the only runs are the ones this test triggers.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.conftest import query
from xinyong.app import services as cluster
from xinyong.app.orchestrate import DAGS_FOLDER
from xinyong.ingest import contracts
from xinyong.runtime import embedded

pytestmark = [pytest.mark.distributed, pytest.mark.e2e]

WORKERS = {"worker-a": "xinyong-worker-a", "worker-b": "xinyong-worker-b"}  # Celery name: host name
STARTUP_TIMEOUT = 600  # migrate + start on a busy 2-core machine
INGEST_TIMEOUT = 900
WAREHOUSE_TIMEOUT = 1500
TERMINAL = {"success", "failed"}
API_USER = "xinyong"


class Api:
    """Airflow's REST API (v2) with a token from the simple auth manager's login."""

    def __init__(self, port: int):
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)

    def login(self, password: str) -> None:
        response = self.http.post("/auth/token", json={"username": API_USER, "password": password})
        assert response.status_code == 201, response.text
        self.http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def __call__(self, method: str, path: str, **kwargs) -> dict:
        response = self.http.request(method, f"/api/v2{path}", **kwargs)
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()


def _wait(what: str, check, timeout: float, topology: cluster.Cluster, every: float = 3.0):
    """Poll `check` until it returns something truthy; fail with the services' logs on timeout
    or when a service died."""
    deadline = time.monotonic() + timeout
    while True:
        topology.check_alive()
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {s.name}\n{s.tail(15)}" for s in topology.services)
            raise TimeoutError(f"{what}: not done after {timeout:.0f}s\n{tails}")
        time.sleep(every)


def _task_log_tails(log_root: Path, dag_id: str, lines: int = 40) -> str:
    out = []
    for path in sorted(log_root.glob(f"dag_id={dag_id}/**/*.log")):
        text = path.read_text(errors="replace").splitlines()
        out.append(f"--- {path.relative_to(log_root)}\n" + "\n".join(text[-lines:]))
    return "\n".join(out) or f"(no task logs under {log_root} for {dag_id})"


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    """Everything started, the pipeline not yet triggered; stops it all afterwards."""
    if shutil.which("redis-server") is None:
        pytest.fail(
            "redis-server is not installed: run `make test-distributed`, which installs "
            "Debian's redis-server (scripts/install_redis.sh)"
        )
    if subprocess.run(["unshare", "--uts", "true"], capture_output=True).returncode != 0:
        pytest.fail(
            "`unshare --uts` is not permitted here; the test gives each worker its own host name "
            "with it and needs root (or CAP_SYS_ADMIN)"
        )
    spec = cluster.load_topology()
    root = tmp_path_factory.mktemp("distributed")
    (root / "logs").mkdir()
    redis_port, pg_port, api_port, log_a, log_b = cluster.free_ports(5)
    services = cluster.Cluster(logs=root / "logs")
    home = root / "home"
    try:
        services.start(
            "redis",
            [
                "redis-server",
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(root),
            ],
            os.environ.copy(),
        )
        server = embedded.ensure_running(home, pg_port)
        cluster.wait_for_port(redis_port, 60, services.services[0].alive)

        password = secrets.token_urlsafe(16)
        passwords_file = root / "simple_auth_manager_passwords.json"
        passwords_file.write_text(json.dumps({API_USER: password}))
        warehouse_url = server.url("xinyong")
        site = {
            "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": server.url("airflow").replace(
                "postgresql://", "postgresql+psycopg2://"
            ),
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + server.url("airflow"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(root / "airflow-logs"),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_a),
            "AIRFLOW_CONN_XINYONG_WAREHOUSE": warehouse_url,
            "XINYONG_WAREHOUSE_URL": warehouse_url,
            "XINYONG_HOME": str(home),
            "XINYONG_LANDING": str(root / "landing"),
            "XINYONG_PERSON_KEY": secrets.token_hex(32),
        }
        assert set(site) == set(spec["airflow_site_env"]), "deploy/topology.yml and this test disagree"
        test_only = {
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{API_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
            "AIRFLOW_HOME": str(root / "airflow"),
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "XINYONG_EVALUATION_DATE": "2026-11-22",
            "PYTHONUNBUFFERED": "1",
        }
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "XINYONG"))}
        env = {**base, **spec["airflow_env"], **site, **test_only}
        values = {
            "AIRFLOW_API_HOST": "127.0.0.1",
            "AIRFLOW_API_PORT": str(api_port),
            "AIRFLOW_API_WORKERS": "1",
            "AIRFLOW_WORKER_QUEUES": spec["queue"],
            "AIRFLOW_WORKER_CONCURRENCY": "1",
        }

        t0 = time.monotonic()
        setup = subprocess.run(
            cluster.command("airflow-init", values, spec),
            env=env,
            capture_output=True,
            text=True,
            timeout=STARTUP_TIMEOUT,
            cwd=cluster.PROJECT_ROOT,
        )
        assert setup.returncode == 0, f"xinyong setup failed:\n{setup.stdout}\n{setup.stderr}"
        subprocess.run(
            [
                str(cluster.VENV_BIN / "xinyong"),
                "generate",
                "--scale",
                "sample",
                "--seed",
                "7",
                "--out",
                env["XINYONG_LANDING"],
            ],
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )

        services.start("api-server", cluster.command("airflow-api-server", values, spec), env)
        services.start("scheduler", cluster.command("airflow-scheduler", values, spec), env)
        services.start("dag-processor", cluster.command("airflow-dag-processor", values, spec), env)
        workers = []
        for (name, host), log_port in zip(WORKERS.items(), (log_a, log_b), strict=False):
            worker_env = {**env, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_port)}
            workers.append(
                services.start(
                    name,
                    cluster.command("airflow-worker", {**values, "AIRFLOW_WORKER_NAME": name}, spec),
                    worker_env,
                    hostname=host,
                )
            )

        api = Api(api_port)
        _wait("API server healthy", lambda: _healthy(api), STARTUP_TIMEOUT, services)
        api.login(password)
        expected = {f"ingest_{feed}" for feed in contracts.load_all()} | {"credit_warehouse"}
        _wait(
            "DAGs parsed by the DAG processor",
            lambda: expected <= {d["dag_id"] for d in api("GET", "/dags", params={"limit": 100})["dags"]},
            STARTUP_TIMEOUT,
            services,
        )
        for worker in workers:  # Celery logs "<name>@<host> ready." once it consumes the queue
            _wait(
                f"Celery {worker.name} ready",
                lambda: " ready." in worker.log.read_text(errors="replace"),
                STARTUP_TIMEOUT,
                services,
            )
        yield {
            "api": api,
            "services": services,
            "warehouse_url": warehouse_url,
            "root": root,
            "log_root": Path(site["AIRFLOW__LOGGING__BASE_LOG_FOLDER"]),
            "expected": expected,
            "startup_seconds": time.monotonic() - t0,
        }
    finally:
        survivors = services.stop()
        embedded.stop(home)
        print(f"\nlogs of the distributed run: {root / 'logs'}", file=sys.stderr)
        assert not survivors, f"processes that would not stop: {survivors}"


def _healthy(api: Api) -> bool:
    try:
        return api.http.get("/api/v2/monitor/health").status_code == 200
    except httpx.TransportError:
        return False


def _trigger(api: Api, dag_id: str) -> str:
    run = api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})
    api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
    return run["dag_run_id"]


def _wait_runs(t: dict, runs: dict[str, str], timeout: float) -> dict[str, str]:
    api = t["api"]

    def states():
        now = {dag: api("GET", f"/dags/{dag}/dagRuns/{run}")["state"] for dag, run in runs.items()}
        failed = [dag for dag, state in now.items() if state == "failed"]
        if failed:
            attempts = query(
                t["warehouse_url"], "select publication_id, status, reason from audit.publications"
            )
            pytest.fail(
                "failed DAG runs: "
                + ", ".join(failed)
                + "\n"
                + "\n".join(_task_log_tails(t["log_root"], dag, lines=12) for dag in failed)
                + "\npublication attempts: "
                + "\n".join(map(str, attempts))
            )
        return now if set(now.values()) <= TERMINAL else None

    return _wait(f"DAG runs {sorted(runs)}", states, timeout, t["services"], every=5)


def test_pipeline_runs_on_two_celery_workers_and_publishes(topology, capsys):
    api = topology["api"]
    started = time.monotonic()
    ingest_runs = {
        dag: _trigger(api, dag) for dag in sorted(topology["expected"]) if dag.startswith("ingest_")
    }
    _wait_runs(topology, ingest_runs, INGEST_TIMEOUT)
    ingest_seconds = time.monotonic() - started

    # The feeds that loaded rows emitted their Assets, on which credit_warehouse is scheduled.
    events = api("GET", "/assets/events", params={"limit": 100})["asset_events"]
    assert {e["source_dag_id"] for e in events} >= {"ingest_entity_register", "ingest_tax_credit"}, events

    warehouse_runs = {"credit_warehouse": _trigger(api, "credit_warehouse")}
    _wait_runs(topology, warehouse_runs, WAREHOUSE_TIMEOUT)
    wall = time.monotonic() - started

    task_instances = []
    for dag, run in {**ingest_runs, **warehouse_runs}.items():
        task_instances += api("GET", f"/dags/{dag}/dagRuns/{run}/taskInstances")["task_instances"]
    ran = [ti for ti in task_instances if ti["state"] in ("success", "skipped")]
    assert len(ran) == len(task_instances), [(ti["task_id"], ti["state"]) for ti in task_instances]
    split = Counter(ti["hostname"] for ti in ran)
    assert set(split) == set(WORKERS.values()), f"task instances per host: {dict(split)}"

    published = query(
        topology["warehouse_url"],
        "select publication_id, status from audit.publications where status = 'published'",
    )
    assert len(published) == 1, query(
        topology["warehouse_url"], "select status, reason from audit.publications"
    )
    profiles = query(topology["warehouse_url"], "select count(*) from publish.entity_credit_profile")[0][0]
    assert profiles > 0

    report = {
        "startup_seconds": round(topology["startup_seconds"], 1),
        "ingest_seconds": round(ingest_seconds, 1),
        "pipeline_wall_seconds": round(wall, 1),
        "task_instances_per_worker": dict(sorted(split.items())),
        "tasks_per_worker": {
            host: sorted(f"{ti['dag_id']}.{ti['task_id']}" for ti in ran if ti["hostname"] == host)
            for host in sorted(split)
        },
        "published_rows": profiles,
    }
    (topology["root"] / "distributed-run.json").write_text(json.dumps(report, indent=2))
    with capsys.disabled():
        print("\ndistributed run (CeleryExecutor, 2 workers):")
        print(f"  start-up (migrate, start services): {report['startup_seconds']}s")
        print(
            f"  pipeline wall time: {report['pipeline_wall_seconds']}s (ingest {report['ingest_seconds']}s)"
        )
        for host, tasks in report["tasks_per_worker"].items():
            print(f"  {host}: {len(tasks)} task instances: {', '.join(tasks)}")
        print(f"  publication live with {profiles} entity profiles")
