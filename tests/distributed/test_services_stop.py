"""Cluster.stop() ends real processes: a service that loses its first SIGTERM still stops
gracefully, and one that ignores SIGTERM is killed and reported.

Runs in the main suite (no Redis or Airflow): the processes are small Python scripts.
"""

from __future__ import annotations

import sys
import time

from xinyong.app import services as cluster

# Exits 0 on its second SIGTERM, as Airflow's DAG processor does when its handler's
# exception swallowed the first one (see Cluster.stop).
LOSES_FIRST_SIGTERM = """
import signal, sys, time
seen = []
def handler(signum, frame):
    seen.append(signum)
    if len(seen) >= 2:
        sys.exit(0)
signal.signal(signal.SIGTERM, handler)
print("ready", flush=True)
while True:
    time.sleep(0.1)
"""

IGNORES_SIGTERM = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
while True:
    time.sleep(0.1)
"""


def _start(group: cluster.Cluster, name: str, script: str) -> cluster.Service:
    service = group.start(name, [sys.executable, "-c", script], env={})
    deadline = time.monotonic() + 30
    while "ready" not in service.tail() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "ready" in service.tail(), f"{name} did not start:\n{service.tail()}"
    return service


def test_a_service_that_loses_its_first_sigterm_stops_gracefully(tmp_path):
    group = cluster.Cluster(logs=tmp_path)
    service = _start(group, "loses-first", LOSES_FIRST_SIGTERM)

    survivors = group.stop(grace=10, resend=0.5)

    assert survivors == []
    assert service.process.returncode == 0  # its own exit, not SIGKILL's


def test_a_service_that_ignores_sigterm_is_killed_and_named(tmp_path):
    group = cluster.Cluster(logs=tmp_path)
    service = _start(group, "deaf", IGNORES_SIGTERM)

    survivors = group.stop(grace=1.5, resend=0.5)

    assert survivors == ["deaf"]
    assert service.process.returncode == -9
