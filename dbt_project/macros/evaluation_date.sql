{% macro evaluation_date() -%}
    date '{{ var("evaluation_date") }}'
{%- endmacro %}
