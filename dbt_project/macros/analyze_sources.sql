{#
  Planner statistics for every raw table the project reads (run at the start of each dbt
  invocation), for each intermediate table right after it is built and for each publication
  store after its daily sync: freshly loaded rows have none until autovacuum comes round, and
  without them PostgreSQL takes a 100,000-row table for a few rows and can pick a nested-loop
  join that runs for minutes. ANALYZE samples a fixed number of rows, so it costs about the
  same at any volume.

  Only a table never analyzed (a table a build has just created, or counters lost in a crash)
  or written since its last ANALYZE by more than autovacuum's own threshold
  (autovacuum_analyze_threshold + autovacuum_analyze_scale_factor x rows: 50 + 10 % by
  default, or the table's own storage parameters), or by more than `rows_worth_analyzing`
  rows, is analyzed again. Re-sampling the unchanged tables cost a daily build about 2 s at
  district scale, and re-sampling the parking table for a day's few hundred rows of 1.3 M
  another 2 s; the kept intermediate tables and the stores, rewritten for a day's few changed
  entities, another 1.3 s of the server's time. The row bound is there because the planner
  does not learn new values at the edge of a column's range (the new rows' file ids, say)
  without new statistics: it takes a city's day of parking (1 M rows of 30 M, under 10 %)
  for one row.

  Writes count once committed (pg_stat_user_tables: every loader of a raw table closes its
  connection after the file, which flushes the counters); a model's own writes, in its
  still open transaction, are added from pg_stat_xact_user_tables. An ANALYZE in that
  transaction does not clear them: they are counted at commit as written after it, so a kept
  table is analyzed again a little earlier than autovacuum would, never later.
#}

{% macro rows_worth_analyzing() -%}10000{%- endmacro %}

{# Whether the table `relation_oid` (an SQL expression of type regclass, possibly null: a
   missing table counts as stale) has statistics older than its writes allow. #}
{% macro statistics_stale(relation_oid, this_transaction=false) -%}
    coalesce((
        select coalesce(stats.last_analyze, stats.last_autoanalyze) is null
            or stats.n_mod_since_analyze
               {%- if this_transaction %} + coalesce(xact.n_tup_ins + xact.n_tup_upd + xact.n_tup_del, 0){% endif %}
               > least(
                   {{ rows_worth_analyzing() }},
                   coalesce(options.threshold, current_setting('autovacuum_analyze_threshold'))::float8
                   + coalesce(options.scale_factor, current_setting('autovacuum_analyze_scale_factor'))::float8
                   * greatest(class.reltuples, 0))
        from pg_class as class
        join pg_stat_user_tables as stats on stats.relid = class.oid
        {%- if this_transaction %}
        left join pg_stat_xact_user_tables as xact on xact.relid = class.oid
        {%- endif %}
        left join lateral (
            select
                max(option_value) filter (where option_name = 'autovacuum_analyze_threshold') as threshold,
                max(option_value) filter (where option_name = 'autovacuum_analyze_scale_factor') as scale_factor
            from pg_options_to_table(class.reloptions)
        ) as options on true
        where class.oid = {{ relation_oid }}
    ), true)
{%- endmacro %}

{# Post-hook (intermediate models) and after a store's sync: ANALYZE `relation` if its
   statistics are stale, counting this transaction's writes. #}
{% macro analyze_if_stale(relation) -%}
    do $$
    begin
        if {{ statistics_stale("'" ~ relation ~ "'::regclass", this_transaction=true) }} then
            analyze {{ relation }};
        end if;
    end $$
{%- endmacro %}

{% macro analyze_sources() -%}
    {%- if execute -%}
        {%- set sources = [] -%}
        {%- for source in graph.sources.values() -%}
            {%- do sources.append(source.schema ~ '.' ~ source.name) -%}
        {%- endfor -%}
        {%- if sources -%}
            {%- set stale -%}
                select source.name
                from unnest(array[{% for name in sources %}'{{ name }}'{{ ", " if not loop.last }}{% endfor %}]) as source(name)
                where {{ statistics_stale('to_regclass(source.name)') }}
                order by source.name
            {%- endset -%}
            {#- in no transaction (dbt ends any before on-run-start), so each ANALYZE commits -#}
            {%- for name in run_query(stale).columns[0].values() -%}
                analyze {{ name }};
            {% endfor -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
