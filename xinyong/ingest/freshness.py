"""Feed freshness: a feed whose last loaded file is older than its cadence raises an alert.

A feed is fresh while a file of it was loaded (`loaded` or `loaded_with_rejects`) within
the last `cadence_days` of its contract; duplicates, quarantined and unreadable files
bring no new data and do not count. A feed that never delivered is stale too. Every stale
finding is written to `audit.freshness_alerts` (created by bootstrap.sql; one row per
check that found the feed stale) and, in Airflow, fails the `check_freshness` task of the
feed's DAG.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from xinyong.ingest import contracts
from xinyong.runtime import warehouse


class FeedStale(RuntimeError):
    """A feed delivered nothing new within its cadence (raised to fail the Airflow check)."""


@dataclass(frozen=True)
class Freshness:
    feed: str
    cadence_days: int
    last_as_of: dt.date | None
    last_received: dt.datetime | None
    checked_at: dt.datetime

    @property
    def age_days(self) -> float | None:
        if self.last_received is None:
            return None
        return (self.checked_at - self.last_received).total_seconds() / 86400

    @property
    def stale(self) -> bool:
        return self.last_received is None or self.age_days > self.cadence_days

    @property
    def message(self) -> str:
        if self.last_received is None:
            return f"{self.feed}: no file has been loaded yet (cadence {self.cadence_days} d)"
        return (
            f"{self.feed}: last file loaded {self.age_days:.1f} days ago "
            f"(as of {self.last_as_of}), cadence {self.cadence_days} d"
        )


def status(
    warehouse_url: str, feeds: list[str] | None = None, now: dt.datetime | None = None
) -> list[Freshness]:
    """Freshness of each feed (all contracts by default) as of `now` (default: the database's clock)."""
    all_contracts = contracts.load_all()
    feeds = feeds or list(all_contracts)
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        if now is None:
            cur.execute("select now()")
            now = cur.fetchone()[0]
        cur.execute(
            """select distinct on (feed) feed, as_of, finished_at from audit.feed_files
                       where feed = any(%s) and status in ('loaded', 'loaded_with_rejects')
                       order by feed, finished_at desc""",
            (feeds,),
        )
        last = {feed: (as_of, received) for feed, as_of, received in cur.fetchall()}
    return [
        Freshness(feed, all_contracts[feed].cadence_days, *last.get(feed, (None, None)), checked_at=now)
        for feed in feeds
    ]


def check(feed: str, warehouse_url: str, now: dt.datetime | None = None) -> Freshness:
    """Check one feed; a stale one is recorded in audit.freshness_alerts and raises FeedStale."""
    [fresh] = status(warehouse_url, [feed], now)
    if fresh.stale:
        with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
            cur.execute(
                """insert into audit.freshness_alerts (feed, last_as_of, last_received, cadence_days,
                                                                detected_at, message)
                           values (%s, %s, %s, %s, %s, %s)""",
                (
                    feed,
                    fresh.last_as_of,
                    fresh.last_received,
                    fresh.cadence_days,
                    fresh.checked_at,
                    fresh.message,
                ),
            )
        raise FeedStale(fresh.message)
    return fresh
