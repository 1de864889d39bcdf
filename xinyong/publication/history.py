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

from xinyong.publication.schemas import INTERMEDIATE, LIVE
from xinyong.runtime import warehouse

TIMEZONE = "Asia/Shanghai"  # a date in `as_of` is a day on the district's clocks
PROFILE = "entity_credit_profile"
EXPLANATION = "credit_score_explanation"
EXPLANATION_STORE = f"{EXPLANATION}__rows"  # its published rows' store (dbt macros/published_rows.sql)


def record_versions(cur, candidate: str, publication_id: int) -> dict:
    """Store what the candidate changes against the history.

    Returns the rows written and how many entities were compared: every entity, or only
    those the candidate may change (`_entities_changed_since_live`) when the live
    publication is the one the history holds last.
    """
    scope = _entities_changed_since_live(cur, candidate)
    if scope is None:
        in_scope = sql.SQL("true")
        latest = sql.SQL("""
            select distinct on (entity_key) entity_key, uscc, profile, explanation
            from history.entity_profile_versions
            order by entity_key, publication_id desc""")
    else:
        in_scope = sql.SQL("entity_key in (select entity_key from history_entities_compared)")
        # each compared entity's newest row, by the primary key (entity_key, publication_id)
        latest = sql.SQL("""
            select c.entity_key, v.uscc, v.profile, v.explanation
            from history_entities_compared c
            cross join lateral (
                select uscc, profile, explanation from history.entity_profile_versions v
                where v.entity_key = c.entity_key order by publication_id desc limit 1
            ) v""")
    cur.execute(
        sql.SQL("""
        with documents as (
            select p.entity_key, p.uscc, p.tier, p.score,
                   to_jsonb(p) - 'evaluation_date' as profile,
                   coalesce(e.rules, '[]'::jsonb) as explanation
            from (select * from {profile} where {in_scope}) p
            left join (
                select entity_key,
                       jsonb_agg(to_jsonb(x) - 'entity_key' order by x.rule_id, x.source_file, x.source_row) as rules
                from {explanation} x where {in_scope} group by entity_key
            ) e using (entity_key)
        ),
        latest as ({latest}),
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
            profile=sql.Identifier(candidate, PROFILE),
            explanation=sql.Identifier(candidate, EXPLANATION),
            in_scope=in_scope,
            latest=latest,
        ),
        (publication_id,),
    )
    return {"rows": cur.rowcount, "entities_compared": "all" if scope is None else scope}


def _entities_changed_since_live(cur, candidate: str) -> int | None:
    """Narrow the comparison to the entities whose documents may differ from the live
    publication's, into the temporary table history_entities_compared; returns their count,
    or None when every entity must be compared.

    The history's newest row of every entity says what the live publication shows when that
    publication is the last one recorded (it went live by a publication, not a rollback).
    Then only these entities can differ: those whose profile row differs from the live one
    (a table in both: one join by key), and those with a score-explanation row added or
    closed between the two builds' versions in the store both schemas' views read
    (macros/published_rows.sql; a store made anew gives every row the new version).
    """
    versions = f"{INTERMEDIATE}.build_versions"
    if not warehouse.relation_exists(cur, versions):
        return None
    # the two explanation views' definitions but for the build version written into each: a
    # view that selects otherwise from the same stored rows shows other documents
    same_view = " is not distinct from ".join(
        f"regexp_replace(pg_get_viewdef(to_regclass(%({name})s)), "
        "'(valid_(from|to) [<>]=? )[0-9]+', '\\1N', 'g')"
        for name in ("explanation", "live_explanation")
    )
    cur.execute(
        f"""select
               (select cause = 'published' and publication_id = substring(
                   obj_description(to_regnamespace(%(live)s), 'pg_namespace') from '(\\d+)$')::bigint
                from history.live_periods where live_until is null),
               (select max(version) from {versions} where schema_oid = to_regnamespace(%(live)s)),
               (select max(version) from {versions} where schema_oid = to_regnamespace(%(candidate)s)),
               exists (select 1 from pg_depend d join pg_rewrite r on r.oid = d.objid
                       where d.classid = 'pg_rewrite'::regclass and r.ev_class = to_regclass(%(explanation)s)
                         and d.refobjid = to_regclass(%(store)s)),
               {same_view}""",
        {
            "live": LIVE,
            "candidate": candidate,
            "store": f"{INTERMEDIATE}.{EXPLANATION_STORE}",
            "explanation": f'"{candidate}".{EXPLANATION}',
            "live_explanation": f"{LIVE}.{EXPLANATION}",
        },
    )
    # the candidate's explanation must be a view over the store as it is now (an approved held
    # candidate's may read a store a later build retired, whose versions the store lacks), and
    # defined as the live one is
    last_recorded, live_version, candidate_version, reads_store, same_view = cur.fetchone()
    if not (last_recorded and live_version and candidate_version and reads_store and same_view):
        return None
    if candidate_version <= live_version:  # not built after the live one: no changes to follow
        return None
    columns = {schema: _profile_columns(cur, schema) for schema in (candidate, LIVE)}
    if columns[candidate] != columns[LIVE]:
        return None
    cur.execute(
        sql.SQL("""
        create temp table history_entities_compared on commit drop as
        select coalesce(c.entity_key, l.entity_key) as entity_key
        from {fresh} c full join {live} l on l.entity_key = c.entity_key
        where c.entity_key is null or l.entity_key is null
           or ({fresh_columns}) is distinct from ({live_columns})
        union
        select entity_key from {store}
        where (valid_from > %(live)s and valid_from <= %(candidate)s)
           or (valid_to > %(live)s and valid_to <= %(candidate)s);
        analyze history_entities_compared;
        select count(*) from history_entities_compared
        """).format(
            fresh=sql.Identifier(candidate, PROFILE),
            live=sql.Identifier(LIVE, PROFILE),
            fresh_columns=sql.SQL(", ").join(
                sql.SQL("c.") + sql.Identifier(n) for n, _ in columns[candidate]
            ),
            live_columns=sql.SQL(", ").join(sql.SQL("l.") + sql.Identifier(n) for n, _ in columns[candidate]),
            store=sql.Identifier(INTERMEDIATE, EXPLANATION_STORE),
        ),
        {"live": live_version, "candidate": candidate_version},
    )
    return cur.fetchone()[0]


def _profile_columns(cur, schema: str) -> list[tuple[str, str]]:
    """The profile table's columns but evaluation_date (every day changes it), with their types."""
    cur.execute(
        """select attname, format_type(atttypid, atttypmod) from pg_attribute
           where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped
             and attname <> 'evaluation_date'
           order by attnum""",
        (f'"{schema}".{PROFILE}',),
    )
    return cur.fetchall()


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
