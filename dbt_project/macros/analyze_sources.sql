{#
  Planner statistics for every raw table the project reads (run at the start of each dbt
  invocation) and for each intermediate table right after it is built: freshly loaded rows
  have none until autovacuum comes round, and without them PostgreSQL takes a 100,000-row
  table for a few rows and can pick a nested-loop join that runs for minutes. ANALYZE
  samples a fixed number of rows, so it costs about the same at any volume.

  Only a source written since its last ANALYZE (PostgreSQL's n_mod_since_analyze) or never
  analyzed (which includes counters lost in a crash) is analyzed again: a daily build
  otherwise re-samples 17 unchanged tables, about 2 s at district scale. Every loader of a
  raw table closes its connection after the file, which flushes the counters.
#}
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
                left join pg_stat_user_tables as stats
                    on stats.relid = to_regclass(source.name)
                where stats.relid is null
                    or stats.n_mod_since_analyze > 0
                    or coalesce(stats.last_analyze, stats.last_autoanalyze) is null
                order by source.name
            {%- endset -%}
            {#- in no transaction (dbt ends any before on-run-start), so each ANALYZE commits -#}
            {%- for name in run_query(stale).columns[0].values() -%}
                analyze {{ name }};
            {% endfor -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
