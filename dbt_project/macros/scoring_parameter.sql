{# A number from the scoring_parameters seed (policy is data). #}
{% macro scoring_parameter(name) -%}
    (select value from {{ ref('scoring_parameters') }} where parameter = '{{ name }}')
{%- endmacro %}
