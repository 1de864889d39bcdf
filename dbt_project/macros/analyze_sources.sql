{#
  Planner statistics for every raw table the project reads (run at the start of each dbt
  invocation) and for each intermediate table right after it is built: freshly loaded rows
  have none until autovacuum comes round, and without them PostgreSQL takes a 100,000-row
  table for a few rows and can pick a nested-loop join that runs for minutes. ANALYZE
  samples a fixed number of rows, so it costs about the same at any volume.
#}
{% macro analyze_sources() -%}
    {%- if execute -%}
        {%- for source in graph.sources.values() -%}
            analyze {{ source.schema }}.{{ source.name }};
        {% endfor -%}
    {%- endif -%}
{%- endmacro %}
