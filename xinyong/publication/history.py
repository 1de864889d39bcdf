"""Publication history: what every publication said about every entity, kept compactly.

`history.entity_profile_versions` holds a row for an entity only in the publications where
its published profile (evaluation_date aside) or its score explanation changed, or where it
left the publication (`profile` null). The values publication P showed are each entity's
newest row with `publication_id <= P`. `history.live_periods` says which publication was live
when, so a date or a moment maps to a publication.

Both are written by `publish` inside the swap's transaction (a crash leaves neither the swap
nor its history), the versions from the candidate before readers are locked out, so the
diff costs readers nothing. Publication ids only grow among published candidates (an
approved held candidate is dropped once a newer one goes live), so diffing a candidate
against each entity's newest row is diffing it against the publication before it, and a
rollback only opens a live period for the restored publication: its versions are already
there and the rolled-back one's stay true for the time it was live.
"""

from __future__ import annotations

import datetime as dt

from psycopg2 import sql

TIMEZONE = "Asia/Shanghai"  # a date in `as_of` is a day on the district's clocks


def record_versions(cur, candidate: str, publication_id: int) -> int:
    """Store what the candidate changes against the history; returns the rows written."""
    cur.execute(
        sql.SQL("""
        with documents as (
            select p.entity_key, p.uscc, p.tier, p.score,
                   to_jsonb(p) - 'evaluation_date' as profile,
                   coalesce(e.rules, '[]'::jsonb) as explanation
            from {profile} p
            left join (
                select entity_key,
                       jsonb_agg(to_jsonb(x) - 'entity_key' order by x.rule_id, x.source_file, x.source_row) as rules
                from {explanation} x group by entity_key
            ) e using (entity_key)
        ),
        latest as (
            select distinct on (entity_key) entity_key, uscc, profile, explanation
            from history.entity_profile_versions
            order by entity_key, publication_id desc
        ),
        changed as (
            select d.entity_key, d.uscc, d.tier, d.score, d.profile, d.explanation
            from documents d left join latest l using (entity_key)
            where l.entity_key is null or l.profile is null
               or l.profile <> d.profile or l.explanation <> d.explanation
            union all
            select l.entity_key, l.uscc, null, null, null, null
            from latest l
            where l.profile is not null and not exists (select 1 from documents d where d.entity_key = l.entity_key)
        )
        insert into history.entity_profile_versions
            (entity_key, publication_id, uscc, tier, score, profile, explanation)
        select entity_key, %s, uscc, tier, score, profile, explanation from changed
        """).format(
            profile=sql.Identifier(candidate, "entity_credit_profile"),
            explanation=sql.Identifier(candidate, "credit_score_explanation"),
        ),
        (publication_id,),
    )
    return cur.rowcount


def went_live(cur, publication_id: int, cause: str = "published") -> None:
    """Close the open live period and open one for `publication_id` (in the swap's transaction)."""
    cur.execute("update history.live_periods set live_until = now() where live_until is null")
    cur.execute(
        """insert into history.live_periods (publication_id, live_from, cause) values (%s, now(), %s)""",
        (publication_id, cause),
    )


def publication_at(cur, moment: dt.date | dt.datetime) -> int | None:
    """The publication live at a moment; for a date, the last one live on that day."""
    if isinstance(moment, dt.datetime):
        cur.execute(
            """select publication_id from history.live_periods
                       where live_from <= %s and coalesce(live_until, 'infinity') > %s
                       order by live_from desc limit 1""",
            (moment, moment),
        )
    else:
        cur.execute(
            """select publication_id from history.live_periods
                       where live_from < (%(day)s::date + 1)::timestamp at time zone %(tz)s
                         and coalesce(live_until, 'infinity') > %(day)s::timestamp at time zone %(tz)s
                       order by live_from desc limit 1""",
            {"day": moment, "tz": TIMEZONE},
        )
    row = cur.fetchone()
    return row[0] if row else None


def entity_at(cur, uscc: str, publication_id: int) -> dict | None:
    """The profile and explanation publication `publication_id` showed for an entity, or None."""
    cur.execute(
        """select profile, explanation from history.entity_profile_versions
                   where uscc = %s and publication_id <= %s
                   order by publication_id desc limit 1""",
        (uscc, publication_id),
    )
    row = cur.fetchone()
    if row is None or row[0] is None:
        return None
    return {"profile": row[0], "explanation": row[1]}
