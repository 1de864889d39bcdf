{#
  A model's per-column not_null and accepted_values checks in one test: one scan of the model
  and one dbt node instead of one per column (a daily build's time is a fixed cost per dbt
  node, README "Incremental build"). One row per failing value, naming its column:
  xinyong/publication/build.py adds the failing columns to the build's failure message.
  As dbt's own tests: not_null fails on null; accepted_values fails on a value outside the
  list (as text) and lets null pass. A mart's enforced contract leaves out what its table's
  constraints refuse already (a null in a not_null or primary_key column, a duplicate key).
    data_tests:
      - column_values:
          arguments:
            not_null: [entity_key]
            accepted_values: {tier: [A, B, C, D]}
#}
{% test column_values(model, not_null=[], accepted_values={}) %}
    {%- set checks = [] -%}
    {%- for column in not_null -%}
        {%- do checks.append((column, 'null::text', 'tested.' ~ column ~ ' is null')) -%}
    {%- endfor -%}
    {%- for column, values in accepted_values.items() -%}
        {%- set listed = [] -%}
        {%- for value in values -%}
            {%- do listed.append("'" ~ (value | string | replace("'", "''")) ~ "'") -%}
        {%- endfor -%}
        {%- do checks.append((column, 'tested.' ~ column ~ '::text',
                              'tested.' ~ column ~ '::text not in (' ~ listed | join(', ') ~ ')')) -%}
    {%- endfor %}
select checked.failing_column, checked.failing_value
from (select * from {{ model }}) as tested
cross join lateral (
    values
    {%- for column, value, fails in checks %}
        ('{{ column }}', {{ value }}, {{ fails }}){{ ',' if not loop.last }}
    {%- endfor %}
) as checked (failing_column, failing_value, fails)
where checked.fails
{% endtest %}
