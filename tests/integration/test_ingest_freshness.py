"""Feed freshness on a real database: a feed with no file loaded within its cadence raises an alert."""

import datetime as dt

import pytest

from tests.conftest import drop_samples, query
from xinyong import ingest
from xinyong.ingest import contracts, freshness

pytestmark = pytest.mark.integration


def test_a_feed_that_never_delivered_is_stale_and_alerted(warehouse_url):
    with pytest.raises(freshness.FeedStale, match="no file has been loaded"):
        freshness.check("parking", warehouse_url)
    assert query(
        warehouse_url, "select feed, last_as_of, last_received, cadence_days from audit.freshness_alerts"
    ) == [("parking", None, None, contracts.load("parking").cadence_days)]


def test_a_fresh_load_passes_and_goes_stale_past_its_cadence(settings, warehouse_url):
    drop_samples(settings.landing, ["parking_20261120.csv"])
    ingest.ingest_feed(contracts.load("parking"), settings, warehouse_url)
    fresh = freshness.check("parking", warehouse_url)
    assert not fresh.stale and fresh.last_as_of == dt.date(2026, 11, 20)
    assert query(warehouse_url, "select count(*) from audit.freshness_alerts") == [(0,)]

    cadence = contracts.load("parking").cadence_days
    later = fresh.last_received + dt.timedelta(days=cadence, hours=1)
    with pytest.raises(freshness.FeedStale, match="cadence 1 d"):
        freshness.check("parking", warehouse_url, now=later)
    assert query(
        warehouse_url, "select feed, last_as_of, last_received, detected_at from audit.freshness_alerts"
    ) == [("parking", dt.date(2026, 11, 20), fresh.last_received, later)]
    # just inside the cadence it is still fresh
    assert not freshness.check("parking", warehouse_url, now=later - dt.timedelta(hours=2)).stale


def test_duplicates_and_quarantined_files_bring_nothing_new(settings, warehouse_url):
    (settings.landing / "tax_credit").mkdir()
    (settings.landing / "tax_credit" / "tax_credit_20261122.xlsx").write_bytes(b"not a workbook")
    ingest.ingest_feed(contracts.load("tax_credit"), settings, warehouse_url)
    assert query(warehouse_url, "select status from audit.feed_files") == [("unreadable",)]
    [state] = freshness.status(warehouse_url, ["tax_credit"])
    assert state.stale and state.last_received is None


def test_status_covers_every_contract(warehouse_url):
    assert {f.feed for f in freshness.status(warehouse_url)} == set(contracts.load_all())
