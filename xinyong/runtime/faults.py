"""Test-only fault injection: `XINYONG_FAULT_INJECTION=<point>` SIGKILLs the process when it
reaches that point, as `kill -9` or a dying worker would. The tests kill each step this way
and check that the rerun ends with every loaded row published exactly once.

Points: `ingest:mid_copy`, `ingest:before_audit`, `build:after_dbt`, `gate:after_checkpoint`,
`swap:between_renames`, `publish:before_outbox`, `outbox:writing`, `report:writing`.
"""
from __future__ import annotations

import os
import signal

FAULT_ENV = "XINYONG_FAULT_INJECTION"


def inject(point: str) -> None:
    if os.environ.get(FAULT_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)
