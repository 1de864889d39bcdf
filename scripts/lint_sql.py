"""sqlfluff on the dbt project: `python scripts/lint_sql.py lint [paths]` (`make lint`).

dbt compiles each model for sqlfluff's dbt templater and opens a connection while doing
so, so this finds the warehouse as `xinyong` does (starting the embedded PostgreSQL if
needed, and stopping it again afterwards if it started it), fills the dbt profile's
environment from its URL and writes the generated contract sources. Every argument goes to
sqlfluff as it is (`lint`, `fix`, paths); the rules and the dbt vars are in .sqlfluff.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from xinyong.publication import build, dbt_sources
from xinyong.runtime import config, embedded, warehouse

# What dbt compiles; macros are compiled only where a model calls them (sqlfluff skips them).
LINTED = ["dbt_project/models", "dbt_project/tests"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(args: list[str]) -> int:
    settings = config.load()
    started_here = not settings.warehouse_url and not embedded.running(settings.home)
    if started_here and "XINYONG_PG_PORT" not in os.environ:
        # a short-lived server of its own: never collide with another checkout's on the default port
        os.environ["XINYONG_PG_PORT"] = str(free_port())
        settings = config.load()
    try:
        env = {**os.environ, **build.dbt_env(warehouse.url(settings))}
        dbt_sources.write(build.DBT_PROJECT)
        sqlfluff = Path(sys.executable).parent / "sqlfluff"
        return subprocess.run([str(sqlfluff), *(args or ["lint", *LINTED])], env=env).returncode
    finally:
        if started_here:
            embedded.stop(settings.home)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
