{#
  Citus: distribute or replicate a model right after dbt created it (post-hook).
  Copy into dbt_project/macros/ and merge dbt_project.citus.yml into dbt_project.yml.
  A no-op unless the run says `--vars '{citus: true}'`, so the same project runs on plain
  PostgreSQL. dbt-postgres creates a table model with `create table ... as select` on the
  coordinator; create_distributed_table then moves its rows into shards (Citus copies
  the existing data), co-located with the other tables on the same key.
#}
{% macro citus_distribute(relation, column, colocate_with='default') -%}
    {%- if var('citus', false) -%}
        select create_distributed_table('{{ relation }}', '{{ column }}', colocate_with => '{{ colocate_with }}')
        where not exists (select 1 from pg_dist_partition where logicalrelid = '{{ relation }}'::regclass)
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro citus_reference(relation) -%}
    {%- if var('citus', false) -%}
        select create_reference_table('{{ relation }}')
        where not exists (select 1 from pg_dist_partition where logicalrelid = '{{ relation }}'::regclass)
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
