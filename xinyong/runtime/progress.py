"""How far a long step has come, for `xinyong run`'s progress lines.

`xinyong run` runs the DAGs in a child process and passes it a pipe in XINYONG_PROGRESS_FD;
the steps report on it as JSON lines (files and rows ingested, dbt nodes done, GX
validations done). Without that variable (an Airflow worker, a test) reporting does nothing.
"""

from __future__ import annotations

import json
import os

FD_ENV = "XINYONG_PROGRESS_FD"


def emit(event: dict) -> None:
    fd = os.environ.get(FD_ENV)
    if fd:
        os.write(int(fd), (json.dumps(event, ensure_ascii=False, default=str) + "\n").encode())


def report(step: str, done: int, total: int | None, unit: str, **counts: int) -> None:
    """`done` of `total` `unit` (files, nodes, validations) of `step`, with running counts."""
    emit({"event": "progress", "step": step, "done": done, "total": total, "unit": unit, "counts": counts})
