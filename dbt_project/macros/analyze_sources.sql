{#
  Planner statistics for every raw table the project reads (run at the start of each dbt
  invocation) and for each intermediate table right after it is built: freshly loaded rows
  have none until autovacuum comes round, and without them PostgreSQL takes a 100,000-row
  table for a few rows and can pick a nested-loop join that runs for minutes. ANALYZE
  samples a fixed number of rows, so it costs about the same at any volume.

  Only a source never analyzed (which includes counters lost in a crash) or written since its
  last ANALYZE by more than autovacuum's own threshold (autovacuum_analyze_threshold +
  autovacuum_analyze_scale_factor x rows: 50 + 10 % by default, or the table's own storage
  parameters), or by more than `rows_worth_analyzing` rows, is analyzed again. Re-sampling
  the unchanged tables cost a daily build about 2 s at district scale, and re-sampling the
  parking table for a day's few hundred rows of 1.3 M another 2 s. The row bound is there
  because the planner does not learn the new rows' file ids from the BRIN index: without new
  statistics it takes a city's day of parking (1 M rows of 30 M, under 10 %) for one row.
  Every loader of a raw table closes its connection after the file, which flushes the counters.
#}
{% macro analyze_sources() -%}
    {%- set rows_worth_analyzing = 10000 -%}
    {%- if execute -%}
        {%- set sources = [] -%}
        {%- for source in graph.sources.values() -%}
            {%- do sources.append(source.schema ~ '.' ~ source.name) -%}
        {%- endfor -%}
        {%- if sources -%}
            {%- set stale -%}
                select source.name
                from unnest(array[{% for name in sources %}'{{ name }}'{{ ", " if not loop.last }}{% endfor %}]) as source(name)
                left join pg_stat_user_tables as stats
                    on stats.relid = to_regclass(source.name)
                left join pg_class as class
                    on class.oid = stats.relid
                left join lateral (
                    select
                        max(option_value) filter (where option_name = 'autovacuum_analyze_threshold') as threshold,
                        max(option_value) filter (where option_name = 'autovacuum_analyze_scale_factor') as scale_factor
                    from pg_options_to_table(class.reloptions)
                ) as options on true
                where stats.relid is null
                    or coalesce(stats.last_analyze, stats.last_autoanalyze) is null
                    or stats.n_mod_since_analyze > least(
                        {{ rows_worth_analyzing }},
                        coalesce(options.threshold, current_setting('autovacuum_analyze_threshold'))::float8
                        + coalesce(options.scale_factor, current_setting('autovacuum_analyze_scale_factor'))::float8
                        * greatest(class.reltuples, 0))
                order by source.name
            {%- endset -%}
            {#- in no transaction (dbt ends any before on-run-start), so each ANALYZE commits -#}
            {%- for name in run_query(stale).columns[0].values() -%}
                analyze {{ name }};
            {% endfor -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
