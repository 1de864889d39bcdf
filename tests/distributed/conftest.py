"""The distributed tests run only when asked for (`make test-distributed`, `-m distributed`):
they need Debian's redis-server, which that target installs, and several minutes."""

from __future__ import annotations


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "distributed: the Celery topology as separate processes (make test-distributed)"
    )


def pytest_collection_modifyitems(config, items):
    if "distributed" in (config.getoption("markexpr") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("distributed") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
