"""`xinyong airflow`: Airflow's own UI on this machine, no Docker.

The API server (with the UI), scheduler, DAG processor and triggerer of deploy/topology.yml
run as local processes (xinyong/app/services.py, as in the distributed test) with the
LocalExecutor, against the metadata database `xinyong run` records its DAG runs in: the
demo's runs are there to see, and the DAGs can be unpaused and scheduled. Login is the
simple auth manager's: user `admin`, password kept in AIRFLOW_HOME.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from xinyong.app import orchestrate, services
from xinyong.runtime import config

USER = "admin"
DEFAULT_PORT = 8080
SERVICES = ("airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
STARTUP_TIMEOUT = 600  # a first start migrates; the API server takes a while on 2 busy cores
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


def _kept_secret(path: Path, make: Callable[[], str]) -> str:
    """A value made once and kept (mode 600): a restart keeps the password and the sessions."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def passwords_file(settings: config.Settings) -> Path:
    """The simple auth manager's passwords ({"admin": "..."}), made on the first start."""
    path = settings.airflow_home / "simple_auth_manager_passwords.json"
    _kept_secret(path, lambda: json.dumps({USER: secrets.token_urlsafe(12)}))
    return path


def password(settings: config.Settings) -> str:
    return json.loads(passwords_file(settings).read_text())[USER]


def env(settings: config.Settings, warehouse_url: str, port: int) -> dict[str, str]:
    """`xinyong run`'s Airflow environment, with what the services need on top of it."""
    keys = settings.airflow_home / "ui-secrets"
    spec = services.load_topology()
    shared = {k: v for k, v in spec["airflow_env"].items() if "CELERY" not in k}
    return {
        **shared,
        **orchestrate.airflow_env(settings, warehouse_url),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file(settings)),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": _kept_secret(keys / "jwt_secret", lambda: secrets.token_hex(32)),
        "AIRFLOW__API__SECRET_KEY": _kept_secret(keys / "api_secret_key", lambda: secrets.token_hex(16)),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(settings.airflow_home / "logs"),
        "PYTHONUNBUFFERED": "1",
    }


def healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def serve(settings: config.Settings, warehouse_url: str, port: int, say: Callable[[str], None]) -> int:
    """Start the services, say where to log in, and keep them until Ctrl-C or SIGTERM."""
    site = env(settings, warehouse_url, port)
    logs = settings.home / "logs" / "airflow-services"
    logs.mkdir(parents=True, exist_ok=True)
    orchestrate.ensure_airflow_db(site, logs / "migrate.log")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "XINYONG"))}
    values = {"AIRFLOW_API_HOST": "127.0.0.1", "AIRFLOW_API_PORT": str(port), "AIRFLOW_API_WORKERS": "1"}
    spec = services.load_topology()
    group = services.Cluster(logs=logs)
    # SIGTERM ends the services as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        for name in SERVICES:
            group.start(name, services.command(name, values, spec), {**base, **site})
        say(f"starting Airflow's API server, scheduler, DAG processor and triggerer (logs in {logs}) ...")
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not healthy(port):
            group.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"Airflow's API server did not answer in {STARTUP_TIMEOUT}s; see {logs}")
            time.sleep(1)
        say(f"Airflow UI: http://127.0.0.1:{port}/")
        say(f"  log in as {USER}, password {password(settings)} (kept in {passwords_file(settings)})")
        say("  the DAGs start paused: unpause one to schedule it; Ctrl-C stops Airflow")
        while True:
            group.check_alive()
            time.sleep(2)
    except KeyboardInterrupt:
        say("stopping Airflow ...")
        return 0
    finally:
        survivors = group.stop()
        if survivors:
            say(f"processes that would not stop: {', '.join(survivors)}")
