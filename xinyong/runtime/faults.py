"""Test-only fault injection: `XINYONG_FAULT_INJECTION=<point>` SIGKILLs the process when it
reaches that point, as `kill -9` or a dying worker would; `<point>#<n>` when it reaches it
for the n-th time (the second file's COPY, say). The tests kill each step this way and
check that the rerun ends with every loaded row published exactly once.

Points: `ingest:mid_copy` (a file's COPY has sent its first block and not ended),
`ingest:before_audit`, `build:after_dbt`, `gate:after_checkpoint`, `swap:between_renames`,
`publish:before_outbox`, `outbox:writing`, `report:writing`.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

FAULT_ENV = "XINYONG_FAULT_INJECTION"
_reached: Counter = Counter()


def armed(point: str) -> bool:
    return os.environ.get(FAULT_ENV, "").split("#")[0] == point


def inject(point: str) -> None:
    if not armed(point):
        return
    _reached[point] += 1
    _, _, nth = os.environ[FAULT_ENV].partition("#")
    if _reached[point] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


class _KilledAfterFirstRead:
    def __init__(self, stream, point: str):
        self._stream, self._point, self._reads = stream, point, 0

    def read(self, size: int = -1):
        if self._reads == 1:  # the first block went to COPY; the next is asked for
            inject(self._point)
        self._reads += 1
        return self._stream.read(size)


def during_copy(stream, point: str = "ingest:mid_copy"):
    """The file-like `stream` a COPY reads; when `point` is armed, one that reaches it after
    COPY has taken the first block (the server holds part of the file, the rest is unsent)."""
    return _KilledAfterFirstRead(stream, point) if armed(point) else stream
