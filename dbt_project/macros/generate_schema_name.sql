{#
  Schemas are named for what they hold, not prefixed by the target: `staging`,
  `intermediate`, `policy`. Published marts go to the candidate schema the caller names
  (var `publish_schema`, no default: xinyong passes its candidate schema); the publication
  step swaps the candidate into `publish` only after every gate passes.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif custom_schema_name == 'publish' -%}
        {{ required_var('publish_schema') }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
