"""Integration tests write a landing file and ingest it at once: the settle wait (a file
written to within that many seconds is looked at again, see loader.settled_files) is made
short here; tests of a growing file set their own."""

import pytest


@pytest.fixture(autouse=True)
def _short_settle_wait(monkeypatch):
    monkeypatch.setenv("XINYONG_LANDING_SETTLE_SECONDS", "0")
