-- The SQL side of the GX gates (expectations/define_gates.py names these in its queries).
-- Applied by xinyong/publication/gates.py before every gate run, idempotently, under the
-- bootstrap advisory lock. Every bound is an argument or a policy seed, never a literal:
-- the GX queries pass the candidate schema (current_schema(), the gate connection's
-- search_path) and the run's knobs (session settings `xinyong.*`, see gates.py).

-- Earlier versions kept these in the runtime bootstrap, with literal or table-held bounds.
drop function if exists audit.penalty_window_findings(text, int, int);
drop view if exists audit.feed_file_volumes;
drop table if exists audit.gate_policy;

-- Every name a contract marks as a natural person's, read from raw by gates.py (prepare),
-- each reader (a select over one raw column) through the file id it has read.
do $$ begin
    -- a view over raw.* before: read whole three times per gate
    if (select relkind from pg_class where oid = to_regclass('audit.natural_person_names')) = 'v' then
        drop view audit.natural_person_names;
    end if;
end $$;
create table if not exists audit.natural_person_names (person_name text primary key);
create table if not exists audit.natural_person_names_read (
    reader text primary key,
    through_file_id bigint not null
);

-- What a gate may report about an offending value: never the full value.
create or replace function audit.mask_text(v text) returns text language sql immutable as $$
    select case
        when v is null then null
        when v ~ '[1-9][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]'
            then regexp_replace(v, '([1-9][0-9]{5})[0-9]{8}([0-9]{3}[0-9Xx])', '\1********\2', 'g')
        when char_length(v) <= 4 then left(v, 1) || repeat('*', char_length(v) - 1)
        else left(v, 2) || '…' || right(v, 2)
    end
$$;

-- Every text column of every table in a schema, discovered at run time, searched for an
-- unmasked 18-character 身份证 number or a natural person's full name (an exact match of a
-- name the raw feeds mark personal: audit.natural_person_names, brought up to date by
-- gates.py from the contracts before each run). Set-based, one statement: the ID pattern is tried once per
-- row on its text columns joined by a newline (which no match spans), and per column only in
-- the rare rows that match; the values of 2 to 4 characters (a name's length) go through
-- one hash join with the names, read once. Only findings come back.
--
-- Proportional to what the build rewrote (p_incremental, from gate_policy.yml: a candidate
-- table that copies an incrementally kept per-entity table row for row, with the source and
-- the entity column): PostgreSQL stamps every row version with the transaction that wrote it
-- (xmin). A clean scan records, per source, the xmins its rows had (audit.personal_data_cleared)
-- and the names it checked against (as md5, audit.personal_data_cleared_names). The next scan
-- reads, of such a candidate table, the rows of the entities whose source rows carry another
-- xmin (rewritten or touched since) in full, and the other rows only against names not
-- checked before, and only against those of them its earlier clean scans read as values of
-- the table (audit.personal_data_cleared_values; none, and they are not read at all). Of a
-- candidate table (not a view) it also reads in full every row that the transaction which
-- created the table did not write (dbt creates and fills it in one; anything written into
-- it afterwards carries another xmin). It reads the whole table when nothing is recorded,
-- and a full refresh rewrites every source row.
create table if not exists audit.personal_data_cleared (
    source_table text primary key,
    xids xid[] not null,
    scan_definition text  -- md5 of audit.personal_data_scan's body when recorded
);
create table if not exists audit.personal_data_cleared_names (name_md5 text primary key);
-- Every short value (2 to 4 characters trimmed: a name's length) the clean scans read in the
-- text columns of each declared table, a superset of those its cleared rows hold (values are
-- added, never removed): a name new since the last clean scan that is none of them is in no
-- cleared row, so those rows need no reading for it. At city scale every day sends names
-- never seen before, and reading every cleared row against them was most of the gate.
-- `recorded_by` is the scan function that recorded them (md5), as for personal_data_cleared.
create table if not exists audit.personal_data_cleared_values (
    table_name text not null,
    value text not null,
    primary key (table_name, value)
);
create table if not exists audit.personal_data_cleared_values_recorded (
    table_name text primary key,
    recorded_by text not null
);

drop function if exists audit.personal_data_scan(text);
create or replace function audit.personal_data_scan(p_schema text, p_incremental jsonb default '{}')
returns table (table_name text, column_name text, kind text, masked_value text, occurrences bigint)
-- volatile: it keeps the short values it read in a temporary table for the caller to record
language plpgsql volatile
-- Misjudging the names (once a view over raw.* taken for about a thousand rows of some
-- 100,000 at district scale), PostgreSQL sorted the million or so short values to merge them
-- with the names, on disk, instead of probing a hash of the names.
set enable_mergejoin = off
-- It took the short values' groups for most of the values (1.9 M of 2.8 M at district scale;
-- there are about a thousand: codes, towns, tiers), and sorted them all on disk to group
-- them. Hashed, they fit in memory; a hash aggregate that outgrows it spills in batches.
set enable_sort = off
as $$
declare
    id_pattern constant text :=
        '[1-9][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]';
    tab record;
    inc jsonb;
    cleared xid[];
    creator xid;  -- the transaction that created a declared table (null: a view)
    rewritten text;
    new_rows text;
    old_rows text;
    scan_rows text;
    against_all_names boolean;
    id_scans text[] := '{}';
    short_scans text[] := '{}';
    names_known boolean := to_regclass('audit.natural_person_names') is not null;
    new_names text[];
    hit_names text[];
    declared text[] := array(select jsonb_object_keys(p_incremental));
    definition_md5 text;
begin
    select md5(p.prosrc) into definition_md5 from pg_proc p
    where p.oid = 'audit.personal_data_scan(text, jsonb)'::regprocedure;
    if cardinality(declared) > 0 then
        -- the short values of the declared tables' rows read against every name, for
        -- audit.store_personal_data_scan to record after a clean scan
        create temporary table if not exists personal_data_scan_values (table_name text, value text)
            on commit drop;
        truncate personal_data_scan_values;
        -- the keys of the entities whose source rows the build rewrote, per declared table
        create temporary table if not exists personal_data_rewritten (table_name text, k text)
            on commit drop;
        truncate personal_data_rewritten;
        -- the xmins each source's rows have, listed by the same pass: what a clean scan records
        create temporary table if not exists personal_data_source_xids (source_table text, xids xid[])
            on commit drop;
        truncate personal_data_source_xids;
    end if;
    if names_known then
        select coalesce(array_agg(n.person_name), '{}') into new_names
        from (select distinct person_name from audit.natural_person_names) n
        where not exists (select from audit.personal_data_cleared_names c where c.name_md5 = md5(n.person_name));
    end if;
    for tab in
        select c.table_name::text as table_name,
               string_agg(format('t.%I::text', c.column_name), ', ' order by c.column_name) as texts,
               string_agg(format('(%L::text, t.%I::text)', c.column_name, c.column_name), ', '
                          order by c.column_name) as pairs,
               array_agg(c.column_name::text order by c.column_name)::text as names,
               string_agg(format('case when char_length(btrim(t.%1$I::text)) between 2 and 4 then t.%1$I::text end',
                                 c.column_name), ', ' order by c.column_name) as shorts
        from information_schema.columns c
        join information_schema.tables t using (table_schema, table_name)
        where c.table_schema = p_schema and t.table_type in ('BASE TABLE', 'VIEW')
          and c.data_type in ('text', 'character varying', 'character')
        group by c.table_name
        order by 1
    loop
        new_rows := format('%I.%I', p_schema, tab.table_name);
        old_rows := null;
        inc := p_incremental -> tab.table_name;
        if inc is not null and to_regclass(inc ->> 'source') is not null then
            select d.xids into cleared from audit.personal_data_cleared d where d.source_table = inc ->> 'source';
            -- A view over the rows the build publishes (dbt_project/macros/published_rows.sql):
            -- nothing writes into a view, its rows are the source's as that build left them.
            -- A table: dbt creates the copy and writes its rows in one transaction, the one of
            -- its pg_class row; a row any other transaction wrote carries its own xmin and is
            -- read in full, in the same pass (a first pass over the whole table to look for
            -- such rows took 19 s of a city day's gate for inspection_sampling alone)
            select case when c.relkind = 'v' then null else c.xmin end into creator
            from pg_class c where c.oid = format('%I.%I', p_schema, tab.table_name)::regclass;
            if cleared is not null
               and exists (select from audit.personal_data_cleared_values_recorded r
                           where r.table_name = tab.table_name and r.recorded_by = definition_md5) then
                -- Kept first, and analyzed: PostgreSQL takes a source's rows with another xmin
                -- for nearly all of them (a city's 12 M, not the day's 0.1 M), so it hashed
                -- whole sources, and once would rescan them for every row of a `not in`.
                -- The same pass lists every xmin of the source for audit.store_personal_data_scan,
                -- which read the whole source a second time for it (a city's 12 M rows again)
                execute format(
                    'with by_xmin as (
                         select s.xmin as x,
                                array_agg(s.%2$I) filter (where s.%2$I is not null
                                                            and not (s.xmin = any(%4$L::xid[]))) as keys
                         from %3$s s group by s.xmin),
                     listed as (
                         insert into personal_data_source_xids (source_table, xids)
                         select %3$L, coalesce(array_agg(b.x), %5$L::xid[]) from by_xmin b)
                     insert into personal_data_rewritten (table_name, k)
                     select distinct %1$L, k.k from by_xmin b cross join lateral unnest(b.keys) k(k)',
                    tab.table_name, inc ->> 'key', inc ->> 'source', cleared, '{}');
                analyze personal_data_rewritten;
                rewritten := format('select r.k from personal_data_rewritten r where r.table_name = %L', tab.table_name);
                -- a row without an entity is read in full: no kept row vouches for it. A semi-join
                -- and an anti-join, never `or key in (…)` nor `not in (…)`; and `offset 0` keeps
                -- the ID pattern above the join: pushed into the scan below it, it was tried on
                -- every row of the table (72 s a city day), not on the rewritten ones
                if creator is null then
                    new_rows := format('(select * from (select c.* from %1$I.%2$I c where c.%3$I in (%4$s)
                                         union all select c.* from %1$I.%2$I c where c.%3$I is null) n offset 0)',
                                       p_schema, tab.table_name, inc ->> 'key', rewritten);
                else
                    -- the table is read once anyway (for the written-after rows): one pass, the
                    -- rewritten keys hashed (distinct: personal_data_rewritten holds each once)
                    new_rows := format('(select * from (select c.* from %1$I.%2$I c left join (%4$s) r(k) on r.k = c.%3$I
                                         where r.k is not null or c.%3$I is null or c.xmin <> %5$L::xid) n offset 0)',
                                       p_schema, tab.table_name, inc ->> 'key', rewritten, creator);
                end if;
                -- the new names that are values its clean scans read: only those can be in
                -- a cleared row
                select coalesce(array_agg(n), '{}') into hit_names
                from unnest(new_names) n
                where exists (select from audit.personal_data_cleared_values v
                              where v.table_name = tab.table_name and v.value = n);
                if cardinality(hit_names) > 0 then
                    old_rows := format(
                        '(select t.* from %1$I.%2$I t where t.%3$I is not null
                            and not exists (select from (%4$s) r(k) where r.k = t.%3$I) and (%5$s)%6$s)',
                        p_schema, tab.table_name, inc ->> 'key', rewritten,
                        (select string_agg(format('btrim(t.%I::text) = any(%L::text[])', c, hit_names), ' or ')
                         from unnest(tab.names::text[]) c),
                        -- the written-after rows are among the rows read in full
                        case when creator is null then '' else format(' and t.xmin = %L::xid', creator) end);
                end if;
            end if;
        end if;
        id_scans := id_scans || format(
            $q$select %1$L::text as table_name, v.column_name, v.value
               from (select * from %2$s t where concat_ws(E'\n', %3$s) ~ %4$L) t
               cross join lateral (values %5$s) v(column_name, value)
               where v.value ~ %4$L$q$,
            tab.table_name, new_rows, tab.texts, id_pattern, tab.pairs);
        -- the rewritten rows are matched against every known name, the kept ones (if read) only
        -- against the names new since their last clean scan
        for scan_rows, against_all_names in
            select r, a from (values (new_rows, true), (old_rows, false)) s(r, a) where r is not null
        loop
            short_scans := short_scans || format(
                $q$select %1$L::text as table_name, u.column_name, u.value, %5$L::boolean as all_names
                   from %2$s t
                   cross join lateral unnest(%3$L::text[], array[%4$s]) u(column_name, value)
                   where u.value is not null$q$,
                tab.table_name, scan_rows, tab.names, tab.shorts, against_all_names);
        end loop;
    end loop;
    if cardinality(id_scans) = 0 then
        return;
    end if;
    -- the short values are grouped before the join with the names (there are few distinct
    -- ones), and those of the declared tables' rows read against every name kept
    return query execute format(
        $q$with names as materialized (%s),
                ids as (%s),
                shorts as (%s),
                short_values as materialized (
                    select s.table_name, s.column_name, btrim(s.value) as value, s.all_names, count(*) as n
                    from shorts s group by 1, 2, 3, 4
                )%s
           select i.table_name, i.column_name, 'id_number'::text, audit.mask_text(i.value), count(*)
           from ids i group by 1, 2, 3, 4
           union all
           select s.table_name, s.column_name, 'person_name'::text, audit.mask_text(s.value), sum(s.n)::bigint
           from short_values s join names n on n.person_name = s.value and (s.all_names or n.is_new)
           group by 1, 2, 3, 4
           order by 1, 2, 3, 4$q$,
        case when names_known
             then format('select person_name, person_name = any(%L::text[]) as is_new from audit.natural_person_names',
                         new_names)
             else 'select null::text as person_name, false as is_new where false' end,
        array_to_string(id_scans, E'\nunion all\n'), array_to_string(short_scans, E'\nunion all\n'),
        case when cardinality(declared) > 0
             then format($k$,
                kept_values as (
                    insert into personal_data_scan_values
                    select distinct v.table_name, v.value from short_values v
                    where v.all_names and v.table_name = any(%L::text[])
                )$k$, declared)
             else '' end);
end
$$;

-- The scan above, run by gates.py in PostgreSQL while the gate's Python loads Great
-- Expectations (the two overlap on two cores), and kept for that gate run: its masked findings
-- under the run's id (session setting `xinyong.gate_run`). A scan is stored with its run in
-- one transaction, so a run listed in personal_data_scan_runs has all its findings stored.
create table if not exists audit.personal_data_scan_runs (
    gate_run text not null,
    candidate_schema text not null,
    scanned_at timestamptz not null default now(),
    primary key (gate_run, candidate_schema)
);
create table if not exists audit.personal_data_scan_findings (
    gate_run text not null,
    candidate_schema text not null,
    table_name text, column_name text, kind text, masked_value text, occurrences bigint
);

drop function if exists audit.store_personal_data_scan(text, text);
create or replace function audit.store_personal_data_scan(p_schema text, p_gate_run text,
                                                          p_incremental jsonb default '{}')
returns bigint language plpgsql as $$
declare
    found bigint;
    definition_md5 text;
    source text;
    listed boolean;
begin
    -- a cleared state recorded by another version of the scan vouches for nothing
    select md5(p.prosrc) into definition_md5 from pg_proc p
    where p.oid = 'audit.personal_data_scan(text, jsonb)'::regprocedure;
    delete from audit.personal_data_cleared d where d.scan_definition is distinct from definition_md5;
    delete from audit.personal_data_cleared_values_recorded r where r.recorded_by <> definition_md5;
    -- earlier runs' scans of this schema are of no use any more
    delete from audit.personal_data_scan_findings where candidate_schema = p_schema;
    delete from audit.personal_data_scan_runs where candidate_schema = p_schema;
    insert into audit.personal_data_scan_findings
    select p_gate_run, p_schema, f.* from audit.personal_data_scan(p_schema, p_incremental) f;
    get diagnostics found = row_count;
    insert into audit.personal_data_scan_runs (gate_run, candidate_schema) values (p_gate_run, p_schema);
    if found = 0 then
        -- Nothing found: every row of each source whose candidate copy was just scanned (in
        -- full or as above) is vouched for, against every name known now. The caller runs
        -- this in one snapshot (repeatable read), so the xmins are those the scan saw.
        for source in
            select value ->> 'source' from jsonb_each(p_incremental)
            where to_regclass(value ->> 'source') is not null
              and to_regclass(format('%I.%I', p_schema, key)) is not null
        loop
            -- listed by the scan when it read the source for its rewritten rows (same snapshot),
            -- else read here
            listed := false;
            if to_regclass('pg_temp.personal_data_source_xids') is not null then
                listed := exists (select from pg_temp.personal_data_source_xids l where l.source_table = source);
            end if;
            execute format('insert into audit.personal_data_cleared (source_table, xids, scan_definition)
                            select %1$L, coalesce(array_agg(x), %3$L::xid[]), %2$L
                            from (%4$s) s
                            on conflict (source_table) do update
                            set xids = excluded.xids, scan_definition = excluded.scan_definition',
                           source, definition_md5, '{}',
                           case when listed
                                then format('select unnest(l.xids) as x from pg_temp.personal_data_source_xids l
                                             where l.source_table = %L', source)
                                else format('select xmin as x from %s group by xmin', source) end);
        end loop;
        -- and the short values of each declared table it read against every name: all of its
        -- rows' when it read the table whole, else the rewritten rows' (the others' are there)
        if to_regclass('pg_temp.personal_data_scan_values') is not null then
            insert into audit.personal_data_cleared_values (table_name, value)
            select distinct v.table_name, v.value from pg_temp.personal_data_scan_values v
            on conflict do nothing;
            insert into audit.personal_data_cleared_values_recorded (table_name, recorded_by)
            select key, definition_md5 from jsonb_each(p_incremental)
            where to_regclass(format('%I.%I', p_schema, key)) is not null
            on conflict (table_name) do update set recorded_by = excluded.recorded_by;
        end if;
        if to_regclass('audit.natural_person_names') is not null then
            insert into audit.personal_data_cleared_names
            select distinct md5(person_name) from audit.natural_person_names where person_name is not null
            on conflict do nothing;
        end if;
    end if;
    return found;
end
$$;

-- What the GX validation `candidate_personal_data` reads: the findings stored for this gate
-- run (`xinyong.gate_run`) when gates.py scanned ahead, else the scan itself.
create or replace function audit.personal_data_findings(p_schema text)
returns table (table_name text, column_name text, kind text, masked_value text, occurrences bigint)
language plpgsql stable as $$
declare
    run text := nullif(current_setting('xinyong.gate_run', true), '');
begin
    if run is not null and exists (select 1 from audit.personal_data_scan_runs r
                                   where r.gate_run = run and r.candidate_schema = p_schema) then
        return query select f.table_name, f.column_name, f.kind, f.masked_value, f.occurrences
                     from audit.personal_data_scan_findings f
                     where f.gate_run = run and f.candidate_schema = p_schema
                     order by 1, 2, 3, 4;
        return;
    end if;
    return query select * from audit.personal_data_scan(p_schema);
end
$$;

-- The tier mix of a candidate against the live publication, one row per tier.
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

-- A penalty disclosed outside its window on the evaluation date. Recomputed independently
-- of the model, from raw.penalty and raw.credit_repair: the window runs from the decision
-- date to the first of decision date + the maximum months of its 失信程度 (the seed
-- policy.publicity_periods; a level the seed does not know gets the seed's longest),
-- 公示截止期 and the repair date.
create or replace function audit.penalty_window_findings(p_schema text, p_evaluation_date date)
returns table (decision_no text, authority_uscc text, decision_date date, window_end date,
               evaluation_date date, problem text)
language plpgsql stable as $$
declare
    level_expr text := 'r.dishonesty_level';
begin
    if p_evaluation_date is null then
        raise exception 'audit.penalty_window_findings: the evaluation date is required';
    end if;
    if to_regclass(format('%I.penalty_disclosure', p_schema)) is null then
        return;
    end if;
    if exists (select 1 from information_schema.columns c where c.table_schema = p_schema
               and c.table_name = 'penalty_disclosure' and c.column_name = 'dishonesty_level') then
        level_expr := 'coalesce(d.dishonesty_level, r.dishonesty_level)';
    end if;
    -- Set-based, one pass over each input: only the disclosed penalties' raw versions and
    -- repairs are read (semi-joins), the seed's maxima are joined, not looked up per row.
    return query execute format(
        $q$with disclosed as (
               select d.* from %2$I.penalty_disclosure d
           ),
           raw_latest as (
               select distinct on (p.decision_no, p.authority_uscc) p.*
               from raw.penalty p
               where (p.decision_no, p.authority_uscc) in (select decision_no, authority_uscc from disclosed)
               order by p.decision_no, p.authority_uscc, p._as_of desc, p._file_id desc
           ),
           repairs as (
               select c.decision_no, c.authority_uscc, min(c.repaired_on) as repaired_on
               from raw.credit_repair c
               where c.repaired_on <= $1
                 and (c.decision_no, c.authority_uscc) in (select decision_no, authority_uscc from disclosed)
               group by 1, 2
           ),
           longest as (select max(max_months) as max_months from policy.publicity_periods),
           judged as (
               select d.decision_no::text, d.authority_uscc::text, r.decision_date,
                      least((r.decision_date + make_interval(
                                 months => coalesce(p.max_months, longest.max_months)::int))::date,
                            r.publicity_until, rp.repaired_on) as window_end
               from disclosed d
               left join raw_latest r using (decision_no, authority_uscc)
               left join repairs rp using (decision_no, authority_uscc)
               left join policy.publicity_periods p on p.dishonesty_level = %1$s
               cross join longest
           )
           select decision_no, authority_uscc, decision_date, window_end, $1,
                  case when decision_date is null then 'not in raw.penalty'
                       when $1 < decision_date then 'decision after the evaluation date'
                       else 'window ended' end
           from judged
           where decision_date is null or $1 < decision_date or $1 >= window_end$q$,
        level_expr, p_schema) using p_evaluation_date;
end
$$;

-- The latest delivery of each feed against the feed's previous delivery. A delivery is the
-- files of one as-of date: a big export comes split in parts (`_1` … `_12`, the XLSX row
-- limit), and its last part alone is no measure of the day. Small previous deliveries
-- (corrections, a day with little traffic) are too noisy for a volume ratio: only previous
-- deliveries of at least p_min_previous_rows are compared. The file columns name a split
-- delivery by its first and last part and how many files it had.
create or replace function audit.feed_file_volumes(p_min_previous_rows bigint)
returns table (feed text, latest_file text, latest_rows bigint, previous_file text,
               previous_rows bigint, volume_ratio numeric)
language sql stable as $$
    with deliveries as (
        select f.feed, f.as_of, sum(f.rows_loaded)::bigint as rows_loaded,
               case when count(*) = 1 then min(f.file_name)
                    else (array_agg(f.file_name order by f.file_id))[1] || ' … '
                         || (array_agg(f.file_name order by f.file_id desc))[1]
                         || ' (' || count(*) || ' files)' end as files,
               max(f.file_id) as last_file_id
        from audit.feed_files f
        where f.status in ('loaded', 'loaded_with_rejects')
          -- corrections are compared with nothing: their size says nothing about a delivery
          and not coalesce(f.rows_updating_known >= 0.9 * f.rows_loaded, false)
        group by f.feed, f.as_of
    ),
    ranked as (
        select d.*,
               row_number() over (partition by d.feed order by d.as_of desc, d.last_file_id desc) as recency
        from deliveries d
    )
    select latest.feed, latest.files, latest.rows_loaded,
           previous.files, previous.rows_loaded,
           round(latest.rows_loaded::numeric / nullif(previous.rows_loaded, 0), 4)
    from ranked latest
    join ranked previous on previous.feed = latest.feed and previous.recency = 2
    where latest.recency = 1
      and previous.rows_loaded >= p_min_previous_rows
$$;

-- A commitment judged broken by a penalty must point to a penalty of the warehouse's
-- windowed penalties (p_penalties: every penalty with its window, disclosed or not) of the
-- same subject, decided after the 承诺日期. Recomputed from that table, not from the mart.
create or replace function audit.commitment_penalty_findings(p_schema text, p_penalties text)
returns table (commitment_no text, penalty_decision_no text, penalty_authority_uscc text, problem text)
language plpgsql stable as $$
begin
    if to_regclass(format('%I.commitment_status', p_schema)) is null then
        return;
    end if;
    if to_regclass(p_penalties) is null then
        return query execute format(
            $q$select s.commitment_no, s.penalty_decision_no, s.penalty_authority_uscc,
                      'no windowed penalties in the warehouse'::text
               from %I.commitment_status s where s.broken_reason_code = 'penalty'$q$, p_schema);
        return;
    end if;
    return query execute format(
        $q$select s.commitment_no, s.penalty_decision_no, s.penalty_authority_uscc,
                  case when w.decision_no is null then 'not among the windowed penalties'
                       when w.entity_key <> s.entity_key then 'a penalty of another subject'
                       else 'decided on or before the 承诺日期' end
           from %I.commitment_status s
           left join %s w
             on w.decision_no = s.penalty_decision_no and w.authority_uscc = s.penalty_authority_uscc
           where s.broken_reason_code = 'penalty'
             and (w.decision_no is null or w.entity_key <> s.entity_key
                  or w.decision_date <= s.committed_on)$q$,
        p_schema, p_penalties);
end
$$;

-- 践诺红名单 and 践诺灰名单 are disjoint: a subject on both, with both reasons.
create or replace function audit.commitment_list_overlap(p_schema text)
returns table (entity_key text, uscc text, red_reason text, grey_reason text)
language plpgsql stable as $$
begin
    if to_regclass(format('%I.commitment_red_list', p_schema)) is null
       or to_regclass(format('%I.commitment_grey_list', p_schema)) is null then
        return;
    end if;
    return query execute format(
        $q$select r.entity_key, r.uscc, r.reason, g.reason
           from %I.commitment_red_list r join %I.commitment_grey_list g using (entity_key)$q$,
        p_schema, p_schema);
end
$$;

-- A current domain rating whose scale or grade the seed domain_grade_classes does not map
-- (p_ratings: the warehouse's current ratings, as dbt built them for the candidate): one row
-- per scale, grade and domain, with how many ratings and the first one's source row. The
-- rating loads (the department's words are no error); the credit office maps it in the seed.
create or replace function audit.domain_scale_findings(p_ratings text)
returns table (scale text, grade text, domain text, ratings bigint, source_file text, source_row bigint)
language plpgsql stable as $$
begin
    if to_regclass(p_ratings) is null then
        return;
    end if;
    return query execute format(
        $q$select r.scale, r.grade, r.domain, count(*),
                  (array_agg(r.source_file order by r.source_file, r.source_row))[1],
                  (array_agg(r.source_row order by r.source_file, r.source_row))[1]
           from %s r where not r.is_grade_mapped
           group by r.scale, r.grade, r.domain order by 1, 2, 3$q$,
        p_ratings);
end
$$;
