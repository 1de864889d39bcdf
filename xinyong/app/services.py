"""Airflow's services as processes on one machine: what `xinyong airflow` and the
distributed test start.

Commands and shared environment come from deploy/topology.yml, the file the compose
services are checked against. Each service is a process group with its log in a file;
`Cluster.stop()` ends every process it started, children included, even after a failure.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import yaml

from xinyong.runtime.config import PROJECT_ROOT

TOPOLOGY_FILE = PROJECT_ROOT / "deploy" / "topology.yml"
VENV_BIN = Path(sys.executable).parent
_EPHEMERAL_PORTS = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _suite_port_range(size: int = 100) -> range:
    """Ports the kernel never hands out as a connection's source port.

    A port inside the ephemeral range can be free when it is chosen and taken by an outgoing
    connection (a worker to Redis, a client to PostgreSQL) before the service binds it: CI
    saw the API server fail with "address already in use" that way."""
    low, high = 32768, 60999  # Linux's default, where /proc is not readable
    if _EPHEMERAL_PORTS.exists():
        low, high = map(int, _EPHEMERAL_PORTS.read_text().split())
    if high + size <= 65535:
        return range(high + 1, high + 1 + size)
    if low - size >= 1024:
        return range(low - size, low)
    raise RuntimeError(f"no {size} ports outside the ephemeral range {low}-{high} ({_EPHEMERAL_PORTS})")


_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def load_topology() -> dict:
    return yaml.safe_load(TOPOLOGY_FILE.read_text(encoding="utf-8"))


def expand(arg: str, values: dict[str, str]) -> str:
    """Compose-style `${NAME:-default}` interpolation, with `values` in place of .env."""

    def one(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in values:
            return values[name]
        if default is None:
            raise KeyError(f"{name} has no value and no default")
        return default

    return _VARIABLE.sub(one, arg)


def command(service: str, values: dict[str, str], topology: dict | None = None) -> list[str]:
    """A service's command from the topology, with the venv's executables."""
    topology = topology or load_topology()
    cmd = {**topology["services"], **topology["migrate"]}[service]
    argv = [expand(a, values) for a in cmd]
    return [str(VENV_BIN / argv[0]), *argv[1:]]


def free_ports(count: int) -> list[int]:
    """`count` free ports on 127.0.0.1 from this suite's range."""
    # worked out here, not at import: `xinyong airflow` imports this module and needs no range
    port_range = _suite_port_range()
    ports = []
    for port in port_range:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
        if len(ports) == count:
            return ports
    raise RuntimeError(f"fewer than {count} free ports in {port_range.start}-{port_range.stop - 1}")


def wait_for_port(port: int, timeout: float, alive=lambda: True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if not alive():
            raise RuntimeError(f"the process meant to listen on port {port} exited")
        time.sleep(0.5)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f}s")


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "\n".join(text[-lines:])


@dataclass
class Cluster:
    logs: Path
    services: list[Service] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str], hostname: str | None = None) -> Service:
        """Start a service in its own process group; `hostname` gives it its own UTS
        namespace and host name, as a container has (the task instances record it)."""
        if hostname:
            argv = ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', hostname, *argv]
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                argv,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=PROJECT_ROOT,
            )
        service = Service(name, process, log)
        self.services.append(service)
        return service

    def check_alive(self) -> None:
        dead = [s for s in self.services if not s.alive()]
        if dead:
            raise RuntimeError(
                "service(s) exited: "
                + "; ".join(f"{s.name} (exit {s.process.returncode}):\n{s.tail()}" for s in dead)
            )

    def stop(self, grace: float = 30.0, resend: float = 5.0) -> list[str]:
        """SIGTERM every service group, again to a service still running every `resend`
        seconds, and SIGKILL what is left after `grace` seconds.

        Why again: a SIGTERM can be lost. Airflow 3.3's DAG processor logs
        `inspect.stack()` in its handler, which raises on CPython 3.11 when the signal lands
        in some frames (gettext parsing, seen in CI); the code it interrupted swallows the
        exception and the processor parses on."""
        survivors: list[str] = []
        # Noted before SIGTERM: a child that left the process group is still found.
        family = {p for s in self.services for p in descendants(s.process.pid)}
        for service in reversed(self.services):
            if service.alive():
                try:
                    os.killpg(service.process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        for service in self.services:
            while service.alive():
                left = deadline - time.monotonic()
                if left <= 0:
                    survivors.append(service.name)
                    break
                try:
                    service.process.wait(timeout=min(left, resend))
                except subprocess.TimeoutExpired:
                    if time.monotonic() < deadline:
                        try:  # the leader only: its children are in their own shutdown
                            os.kill(service.process.pid, signal.SIGTERM)
                        except ProcessLookupError:
                            pass
        for service in self.services:
            family |= set(descendants(service.process.pid))
            try:
                os.killpg(service.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for process in family:  # psutil checks the start time: a reused pid is not killed
            try:
                process.kill()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        for service in self.services:
            try:
                service.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                survivors.append(f"{service.name} (unkillable)")
        return survivors
