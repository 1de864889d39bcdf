{#
  The day the evaluation speaks for (publicity windows, registration age), passed by the
  caller: xinyong resolves it once per run and passes it, so a rebuild of the same data gives
  the same scores. Never defaulted (a default would be the machine's today, a second "today").
#}
{% macro evaluation_date() -%}
    date '{{ required_var("evaluation_date") }}'
{%- endmacro %}

{# A var the caller must pass: missing, it stops dbt with how to pass it. #}
{% macro required_var(name) -%}
    {%- set value = var(name, none) -%}
    {%- if value is none or value == '' -%}
        {{ exceptions.raise_compiler_error(
            "dbt var '" ~ name ~ "' is missing: pass --vars '{evaluation_date: YYYY-MM-DD, "
            ~ "publish_schema: <candidate schema>}'; xinyong passes both (see README).") }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}
