{#
  A table of the live publication (var `live_schema`: xinyong passes `publish`, the schema
  readers see while the candidate is built), or none when there is no live publication, or
  it has no such table yet: then there is nothing to compare with and the warning kinds
  that read it raise nothing (the first publication is the baseline).
#}
{% macro live_relation(identifier) -%}
    {%- if not execute or var('live_schema', none) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {#- asked of the server, not of dbt's relation cache: the views of the live schema over kept
        rows (macros/published_rows.sql) make dbt cache that schema as holding them alone -#}
    {%- set relation = api.Relation.create(database=target.database, schema=var('live_schema'),
                                           identifier=identifier) -%}
    {%- if not run_query("select to_regclass('" ~ relation ~ "') is not null")[0][0] -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}

{# The columns every warning kind yields, for a kind that has nothing to compare with. #}
{% macro risk_warnings__none() -%}
    select null::text as kind, null::text as entity_key, null::text as uscc, null::text as subject_name,
        null::text as detail, null::text as domain, null::text as authority_uscc,
        null::text as evidence_feed, null::text as evidence_file, null::bigint as evidence_row
    where false
{%- endmacro %}

{# What the live publication calls itself ('xinyong publication <id>'), or null. #}
{% macro live_publication_label() -%}
    {%- if var('live_schema', none) is none -%}null{%- else -%}
    (select obj_description(oid, 'pg_namespace') from pg_namespace where nspname = '{{ var("live_schema") }}')
    {%- endif -%}
{%- endmacro %}
