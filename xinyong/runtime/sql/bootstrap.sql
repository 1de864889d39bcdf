-- Schemas and audit tables that the platform owns (the raw tables come from the contracts).
create schema if not exists raw;
create schema if not exists audit;

-- The keyed hash (HMAC-SHA256, key outside the database) of every personal ID number the
-- feeds brought, once per distinct number: staging joins it, so the number itself never
-- leaves raw, and a 1,000,000-row file with 55,000 people costs 55,000 hashes, not a million.
-- No index: it is only ever joined whole (hash joins), and loaders add to it one at a time
-- under an advisory lock, which keeps id_value unique (a dbt test checks it) without the
-- upkeep of a B-tree on the first load of a district's 55,000 owners.
create table if not exists raw.personal_id_digests (
    id_value  text not null,
    digest    text not null
);

create table if not exists audit.feed_files (
    file_id        bigserial primary key,
    feed           text not null,
    file_name      text not null,
    sha256         text not null,
    as_of          date,
    status         text not null check (status in
                   ('loaded', 'loaded_with_rejects', 'quarantined', 'duplicate', 'unreadable')),
    rows_read      bigint not null default 0,
    rows_loaded    bigint not null default 0,
    rows_rejected  bigint not null default 0,
    message        text,
    report_path    text,
    started_at     timestamptz not null,
    finished_at    timestamptz not null default now(),
    check (rows_read = rows_loaded + rows_rejected)
);
-- Rows of a file that only update records known from earlier files: a file made mostly of
-- them is a correction (e.g. the parking operator's payment-state updates), not a delivery.
alter table audit.feed_files add column if not exists rows_updating_known bigint;

-- The same bytes are taken once per feed; later copies are recorded as duplicates.
create unique index if not exists feed_files_once
    on audit.feed_files (feed, sha256) where status in ('loaded', 'loaded_with_rejects', 'quarantined');

create table if not exists audit.rejected_rows (
    file_id      bigint not null references audit.feed_files (file_id),
    feed         text not null,
    file_name    text not null,
    row_number   bigint not null,          -- as in the file, header = row 1
    column_name  text not null,            -- the contract's Chinese header
    value        text,                     -- masked where personal
    reason       text not null
);
create index if not exists rejected_rows_file on audit.rejected_rows (file_id);

create table if not exists audit.publications (
    publication_id  bigserial primary key,
    started_at      timestamptz not null default now(),
    finished_at     timestamptz,
    status          text not null check (status in ('running', 'published', 'failed', 'rolled_back', 'superseded')),
    evaluation_date date,
    reason          text,
    gate_results    jsonb,
    row_counts      jsonb,
    artifacts       jsonb
);

-- Publication and gates (additive): approvals, rollbacks and the candidate kept for approval.
alter table audit.publications add column if not exists held_schema text;
alter table audit.publications add column if not exists approved_by text;
alter table audit.publications add column if not exists approved_reason text;
alter table audit.publications add column if not exists approved_at timestamptz;
alter table audit.publications add column if not exists rolled_back_by text;
alter table audit.publications add column if not exists rolled_back_at timestamptz;
-- The newest loaded file an attempt read (files are numbered in arrival order): whether to
-- build again is decided from state, not from whether this run happened to load rows.
alter table audit.publications add column if not exists input_file_id bigint;

-- Masks for what a gate reports about offending rows: never the full value.
create or replace function audit.mask_text(v text) returns text language sql immutable as $$
    select case
        when v is null then null
        when v ~ '[1-9][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]'
            then regexp_replace(v, '([1-9][0-9]{5})[0-9]{8}([0-9]{3}[0-9Xx])', '\1********\2', 'g')
        when char_length(v) <= 4 then left(v, 1) || repeat('*', char_length(v) - 1)
        else left(v, 2) || '…' || right(v, 2)
    end
$$;

-- Gate: every text column of every table in a schema, discovered at run time, searched for
-- an unmasked 18-character 身份证 number or a natural person's full name (an exact match of
-- a name the raw feeds mark personal, see audit.natural_person_names, refreshed by the gate).
create or replace function audit.personal_data_findings(p_schema text)
returns table (table_name text, column_name text, kind text, masked_value text, occurrences bigint)
language plpgsql stable as $$
declare
    col record;
    has_names boolean := to_regclass('audit.natural_person_names') is not null;
begin
    for col in
        select c.table_name::text as t, c.column_name::text as c
        from information_schema.columns c
        join information_schema.tables t using (table_schema, table_name)
        where c.table_schema = p_schema and t.table_type = 'BASE TABLE'
          and c.data_type in ('text', 'character varying', 'character')
        order by 1, 2
    loop
        return query execute format(
            $q$select %L::text, %L::text, 'id_number'::text, audit.mask_text(%I::text), count(*)
               from %I.%I
               where %I ~ '[1-9][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]'
               group by 3, 4$q$,
            col.t, col.c, col.c, p_schema, col.t, col.c);
        if has_names then
            return query execute format(
                $q$select %L::text, %L::text, 'person_name'::text, audit.mask_text(v.%I::text), count(*)
                   from %I.%I v join audit.natural_person_names n on btrim(v.%I) = n.person_name
                   group by 3, 4$q$,
                col.t, col.c, col.c, p_schema, col.t, col.c);
        end if;
    end loop;
end
$$;

-- Gate: the tier mix of a candidate against the live publication, one row per tier.
-- No rows when there is no live publication yet (nothing to compare with).
create or replace function audit.tier_shift(p_candidate text, p_live text)
returns table (tier text, candidate_entities bigint, live_entities bigint,
               candidate_share numeric, live_share numeric, share_shift numeric)
language plpgsql stable as $$
begin
    if to_regclass(format('%I.entity_credit_profile', p_live)) is null
       or to_regclass(format('%I.entity_credit_profile', p_candidate)) is null then
        return;
    end if;
    return query execute format(
        $q$with c as (select tier, count(*) n from %I.entity_credit_profile group by tier),
                l as (select tier, count(*) n from %I.entity_credit_profile group by tier),
                j as (select coalesce(c.tier, l.tier) tier, coalesce(c.n, 0) cn, coalesce(l.n, 0) ln
                      from c full join l on c.tier = l.tier)
           select tier::text, cn, ln,
                  round(cn::numeric / nullif(sum(cn) over (), 0), 4),
                  round(ln::numeric / nullif(sum(ln) over (), 0), 4),
                  round(coalesce(cn::numeric / nullif(sum(cn) over (), 0), 0)
                        - coalesce(ln::numeric / nullif(sum(ln) over (), 0), 0), 4)
           from j order by tier$q$, p_candidate, p_live);
end
$$;


-- Gate: a penalty disclosed outside its window. Recomputed independently of the model from
-- raw.penalty and raw.credit_repair: the window runs from the decision date to the first of
-- decision date + maximum months (by 失信程度; unknown level gets the longest), 公示截止期 and
-- the repair date. Audits the attempt being built (the running publication's evaluation date).
create or replace function audit.penalty_window_findings(p_schema text, p_max_months_general int,
                                                         p_max_months_serious int)
returns table (decision_no text, authority_uscc text, decision_date date, window_end date,
               evaluation_date date, problem text)
language plpgsql stable as $$
declare
    day date;
    level_expr text := 'r.dishonesty_level';
begin
    if to_regclass(format('%I.penalty_disclosure', p_schema)) is null then
        return;
    end if;
    select p.evaluation_date into day from audit.publications p
    where p.status = 'running' order by p.publication_id desc limit 1;
    day := coalesce(day, current_date);
    if exists (select 1 from information_schema.columns c where c.table_schema = p_schema
               and c.table_name = 'penalty_disclosure' and c.column_name = 'dishonesty_level') then
        level_expr := 'coalesce(d.dishonesty_level, r.dishonesty_level)';
    end if;
    return query execute format(
        $q$with raw_latest as (
               select distinct on (decision_no, authority_uscc) *
               from raw.penalty order by decision_no, authority_uscc, _as_of desc, _file_id desc
           ),
           repairs as (
               select decision_no, authority_uscc, min(repaired_on) as repaired_on
               from raw.credit_repair where repaired_on <= %L::date group by 1, 2
           ),
           judged as (
               select d.decision_no::text, d.authority_uscc::text, r.decision_date,
                      least((r.decision_date + make_interval(months =>
                                 case when %s = '一般' then %s else %s end))::date,
                            r.publicity_until, rp.repaired_on) as window_end
               from %I.penalty_disclosure d
               left join raw_latest r using (decision_no, authority_uscc)
               left join repairs rp using (decision_no, authority_uscc)
           )
           select decision_no, authority_uscc, decision_date, window_end, %L::date,
                  case when decision_date is null then 'not in raw.penalty'
                       when %L::date < decision_date then 'decision after the evaluation date'
                       else 'window ended' end
           from judged
           where decision_date is null or %L::date < decision_date or %L::date >= window_end$q$,
        day, level_expr, p_max_months_general, p_max_months_serious, p_schema, day, day, day, day);
end
$$;

-- Gate knobs that SQL needs, copied from expectations/gate_policy.yml by the gate on every run.
create table if not exists audit.gate_policy (
    name   text primary key,
    value  numeric not null
);

-- Feed gate: the latest loaded file of each feed against the feed's previous loaded file.
-- Small files (corrections, a day with little traffic) are too noisy for a volume ratio.
create or replace view audit.feed_file_volumes as
with ranked as (
    select feed, file_name, rows_loaded,
           row_number() over (partition by feed order by as_of desc, file_id desc) as recency
    from audit.feed_files
    where status in ('loaded', 'loaded_with_rejects')
      -- corrections are compared with nothing: their size says nothing about a delivery
      and not coalesce(rows_updating_known >= 0.9 * rows_loaded, false)
)
select latest.feed, latest.file_name as latest_file, latest.rows_loaded as latest_rows,
       previous.file_name as previous_file, previous.rows_loaded as previous_rows,
       round(latest.rows_loaded::numeric / nullif(previous.rows_loaded, 0), 4) as volume_ratio
from ranked latest
join ranked previous on previous.feed = latest.feed and previous.recency = 2
where latest.recency = 1
  and previous.rows_loaded >= coalesce(
        (select value from audit.gate_policy where name = 'feed_volume_min_previous_rows'), 0);

-- Feed freshness alerts (xinyong/freshness.py): one row per check that found a feed with
-- no file loaded within its contract's cadence_days.
create table if not exists audit.freshness_alerts (
    alert_id       bigserial primary key,
    feed           text not null,
    last_as_of     date,                    -- as-of date of the newest loaded file, if any
    last_received  timestamptz,             -- when that file was loaded
    cadence_days   integer not null,
    detected_at    timestamptz not null default now(),
    message        text not null
);
