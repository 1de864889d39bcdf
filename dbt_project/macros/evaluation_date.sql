{#
  The day the evaluation speaks for (publicity windows, registration age), passed by the
  caller: xinyong resolves it once per run and passes it, so a rebuild of the same data gives
  the same scores. Never defaulted (a default would be the machine's today, a second "today").

  xinyong passes it in the environment (XINYONG_DBT_EVALUATION_DATE, from
  xinyong.publication.build.dbt_env), read only when dbt executes: the SQL's shape does not
  depend on the day, so a new day leaves dbt's parse of the project valid (partial parsing;
  a changed --vars makes dbt re-parse every file, about 8 s a build). A var evaluation_date
  (--vars, or a unit test's vars) still wins.
#}
{% macro evaluation_date() -%}
    {%- if execute and keeps_latest_versions() -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ " keeps the latest versions from build to build (macros/latest_kept_version.sql): "
            ~ "a column that depends on the evaluation date would keep the day it was written; "
            ~ "compute it in an intermediate model, or make this staging model a view.") }}
    {%- endif -%}
    date '{{ evaluation_date_text() }}'
{%- endmacro %}

{% macro evaluation_date_text() -%}
    {%- set value = var('evaluation_date', none) -%}
    {%- if value is none and not execute -%}
        {#- parsing: a placeholder; reading the environment here would tie every model's parse to the day -#}
        {%- set value = '1970-01-01' -%}
    {%- elif value is none -%}
        {%- set value = env_var('XINYONG_DBT_EVALUATION_DATE', '') -%}
    {%- endif -%}
    {%- if value == '' -%}
        {{ exceptions.raise_compiler_error(
            "the evaluation date is missing: set XINYONG_DBT_EVALUATION_DATE=YYYY-MM-DD (or pass "
            ~ "--vars '{evaluation_date: YYYY-MM-DD}') and --vars '{publish_schema: <candidate schema>}'; "
            ~ "xinyong passes both (see README).") }}
    {%- endif -%}
    {{ return(value | string) }}
{%- endmacro %}

{# A var the caller must pass: missing, it stops dbt with how to pass it. #}
{% macro required_var(name) -%}
    {%- set value = var(name, none) -%}
    {%- if value is none or value == '' -%}
        {{ exceptions.raise_compiler_error(
            "dbt var '" ~ name ~ "' is missing: pass --vars '{publish_schema: <candidate schema>}' "
            ~ "and XINYONG_DBT_EVALUATION_DATE=YYYY-MM-DD; xinyong passes both (see README).") }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}
