"""The test-only kill points: `<point>` fires the first time, `<point>#<n>` the n-th; a COPY
stream is killed after its first block, and is the stream itself when nothing is armed."""

import io
import os
import subprocess
import sys

from xinyong.runtime import faults

KILLED_AT = """
import io, sys
from xinyong.runtime import faults
for n in (1, 2, 3):
    print(n, flush=True)
    faults.inject("ingest:mid_copy")
stream = faults.during_copy(io.BytesIO(b"abcdef"))
print(stream.read(3).decode(), flush=True)
stream.read(3)
print("not killed", flush=True)
"""


def run(fault: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", KILLED_AT],
        env={**os.environ, faults.FAULT_ENV: fault},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_point_fires_at_its_nth_arrival_and_a_copy_after_its_first_block():
    first, second = run("ingest:mid_copy"), run("ingest:mid_copy#2")
    assert (first.returncode, first.stdout.split()) == (-9, ["1"])
    assert (second.returncode, second.stdout.split()) == (-9, ["1", "2"])
    other = run("build:after_dbt")
    assert other.returncode == 0 and other.stdout.split() == ["1", "2", "3", "abc", "not", "killed"]


def test_an_unarmed_copy_stream_is_left_as_it_is(monkeypatch):
    monkeypatch.delenv(faults.FAULT_ENV, raising=False)
    stream = io.BytesIO(b"x")
    assert faults.during_copy(stream) is stream
