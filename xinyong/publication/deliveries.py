"""The log of 信易贷 candidate deliveries (`audit.candidate_deliveries`), one row per delivery.

Whoever hands loan candidates to a lender logs it here: the outbox once per publication for
the loan platform (`lender_uscc` None: the platform shows the list to every institution on
it), the query API once per page it serves a lender's client (`lender_uscc` that client's
institution). The BI tables `loan_outcome_by_lender` count candidates delivered and who of
them applied from this log.
"""

from __future__ import annotations

import datetime as dt
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
    keys = sorted(set(entity_keys))
    cur.execute(
        """insert into audit.candidate_deliveries
                   (publication_id, evaluation_date, channel, recipient, lender_uscc,
                    candidate_count, new_candidates)
               values (%s, %s, %s, %s, %s, %s, 0)
               on conflict (recipient, publication_id) where channel = 'outbox' do nothing
               returning delivery_id""",
        (publication_id, evaluation_date, channel, recipient, lender_uscc, len(keys)),
    )
    row = cur.fetchone()
    if row is None:
        return None
    delivery_id = row[0]
    # an earlier evaluation date (a past day rebuilt and delivered later) moves the first delivery back
    cur.execute(
        """with first as (
               insert into audit.delivered_candidates
                      (lender_uscc, entity_key, first_delivered_on, first_delivery_id)
               select %(lender)s, key, %(day)s, %(delivery)s from unnest(%(keys)s::text[]) as key
               on conflict (coalesce(lender_uscc, ''), entity_key) do update
                   set first_delivered_on = excluded.first_delivered_on,
                       first_delivery_id = excluded.first_delivery_id
                   where excluded.first_delivered_on < delivered_candidates.first_delivered_on
               returning (xmax = 0) as inserted)
           update audit.candidate_deliveries
              set new_candidates = (select count(*) from first where inserted)
            where delivery_id = %(delivery)s""",
        {"lender": lender_uscc, "day": evaluation_date, "delivery": delivery_id, "keys": keys},
    )
    return delivery_id
