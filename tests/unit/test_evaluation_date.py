"""The evaluation date is resolved once per warehouse run, in the district's time zone."""

import datetime as dt

import pytest

from xinyong.app.pipeline import resolve_evaluation_date

UTC = dt.UTC


def test_a_requested_day_wins():
    assert resolve_evaluation_date("2026-03-01", dt.datetime(2026, 12, 2, 3, tzinfo=UTC)) == "2026-03-01"


def test_the_run_after_is_read_in_asia_shanghai_not_utc():
    # 16:30 UTC on 1 December is 00:30 on 2 December in Chongqing
    assert resolve_evaluation_date(None, dt.datetime(2026, 12, 1, 16, 30, tzinfo=UTC)) == "2026-12-02"
    assert resolve_evaluation_date(None, dt.datetime(2026, 12, 1, 15, 59, tzinfo=UTC)) == "2026-12-01"


def test_a_malformed_day_is_refused_in_one_sentence():
    with pytest.raises(ValueError, match="is not a date"):
        resolve_evaluation_date("2026-13-01")
