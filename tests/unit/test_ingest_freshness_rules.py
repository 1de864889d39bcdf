"""When a feed counts as stale, and what its alert says."""

import datetime as dt

from xinyong.ingest.freshness import Freshness

NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


def state(received_hours_ago: float | None, cadence_days: int = 1) -> Freshness:
    received = None if received_hours_ago is None else NOW - dt.timedelta(hours=received_hours_ago)
    return Freshness("parking", cadence_days, dt.date(2026, 11, 20) if received else None, received, NOW)


def test_stale_only_past_the_cadence():
    assert not state(23).stale
    assert not state(24).stale  # exactly one cadence old is still on time
    assert state(25).stale
    assert not state(24 * 6, cadence_days=7).stale
    assert state(24 * 8, cadence_days=7).stale


def test_never_delivered_is_stale():
    assert state(None).stale and state(None).age_days is None
    assert "no file has been loaded yet" in state(None).message


def test_message_names_age_as_of_and_cadence():
    assert state(36).message == "parking: last file loaded 1.5 days ago (as of 2026-11-20), cadence 1 d"
