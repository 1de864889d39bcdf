"""The log of 信易贷 candidate deliveries (`audit.candidate_deliveries`), one row per delivery.

Whoever hands loan candidates to a lender logs it here: the outbox once per publication for
the loan platform (`lender_uscc` None: the platform shows the list to every institution on
it), the query API once per page it serves a lender's client (`lender_uscc` that client's
institution). The BI tables `loan_outcome_by_lender` count candidates delivered and who of
them applied from this log.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable

OUTBOX, API = "outbox", "api"


def log_candidate_delivery(
    cur,
    *,
    publication_id: int,
    evaluation_date: dt.date | str,
    channel: str,
    recipient: str,
    entity_keys: Iterable[str],
    lender_uscc: str | None = None,
) -> int | None:
    """Record one delivery of the candidates `entity_keys` of publication `publication_id`
    (judged on `evaluation_date`) through `channel` (OUTBOX or API) to `recipient` (the
    consumer or the API client), for the institution `lender_uscc` or, when None, every
    institution on the platform; and each candidate's first delivery to that audience.
    Runs in the caller's transaction; returns the delivery id, or None when this outbox
    delivery was logged before (an outbox folder is one delivery, however often it is checked)."""
    if channel not in (OUTBOX, API):
        raise ValueError(f"unknown delivery channel {channel!r} (known: {OUTBOX}, {API})")
    if cur.connection.autocommit:
        raise ValueError("log_candidate_delivery runs in the caller's transaction, not in autocommit")
    cur.execute(
        """insert into audit.candidate_deliveries
                   (publication_id, evaluation_date, channel, recipient, lender_uscc,
                    candidate_count, new_candidates)
               values (%s, %s, %s, %s, %s, 0, 0)
               on conflict (recipient, publication_id) where channel = 'outbox' do nothing
               returning delivery_id""",
        (publication_id, evaluation_date, channel, recipient, lender_uscc),
    )
    row = cur.fetchone()
    if row is None:
        return None
    delivery_id = row[0]
    candidates = _load_keys(cur, entity_keys)
    # Only candidates new to the audience, or delivered first later than this day (a past day
    # rebuilt and delivered later moves the first delivery back), are written. Upserting the
    # whole list each day locked every row it matched, a write per candidate (PostgreSQL locks
    # a conflicting row even when the update's condition is false). The others are dropped
    # first, in a statement of their own: read inside the insert, the table it fills was
    # scanned again for every key (a nested loop), 2.7 M times on a city's first delivery.
    params = {"lender": lender_uscc, "day": evaluation_date, "delivery": delivery_id}
    cur.execute(
        """delete from pg_temp.delivered_keys as k
           using audit.delivered_candidates as d
           where coalesce(d.lender_uscc, '') = coalesce(%(lender)s, '')
             and d.entity_key = k.entity_key
             and d.first_delivered_on <= %(day)s""",
        params,
    )
    # In key order, so two deliveries to one audience at once wait for each other rather than deadlock.
    cur.execute(
        """with first as (
               insert into audit.delivered_candidates
                      (lender_uscc, entity_key, first_delivered_on, first_delivery_id)
               select %(lender)s, entity_key, %(day)s, %(delivery)s
               from pg_temp.delivered_keys
               order by entity_key
               on conflict (coalesce(lender_uscc, ''), entity_key) do update
                   set first_delivered_on = excluded.first_delivered_on,
                       first_delivery_id = excluded.first_delivery_id
                   where excluded.first_delivered_on < delivered_candidates.first_delivered_on
               returning (xmax = 0) as inserted)
           update audit.candidate_deliveries
              set candidate_count = %(candidates)s,
                  new_candidates = (select count(*) from first where inserted)
            where delivery_id = %(delivery)s""",
        {**params, "candidates": candidates},
    )
    # the caller's transaction may log another delivery (a failure rolls the table back with it)
    cur.execute("drop table pg_temp.delivered_keys")
    return delivery_id


# COPY's text format: these characters would end or escape a field
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


class _KeyLines:
    """The keys as COPY text lines for copy_expert, read a batch at a time (an outbox
    delivers millions at city scale; one array parameter of them was built and parsed as text)."""

    def __init__(self, keys: Iterable[str], batch: int = 50_000) -> None:
        self._keys, self._batch = iter(keys), batch

    def read(self, size: int = -1) -> str:
        return "".join(
            f"{key.translate(_COPY_ESCAPES)}\n" for key in itertools.islice(self._keys, self._batch)
        )


def _load_keys(cur, entity_keys: Iterable[str]) -> int:
    """The delivered keys, once each, into `pg_temp.delivered_keys` by COPY; how many."""
    cur.execute("create temporary table delivered_keys_copied (entity_key text not null) on commit drop")
    cur.copy_expert("copy pg_temp.delivered_keys_copied from stdin", _KeyLines(entity_keys))
    cur.execute(
        """create temporary table delivered_keys on commit drop as
               select distinct entity_key from pg_temp.delivered_keys_copied;
           drop table pg_temp.delivered_keys_copied;
           analyze pg_temp.delivered_keys"""
    )
    cur.execute("select count(*) from pg_temp.delivered_keys")
    return cur.fetchone()[0]
