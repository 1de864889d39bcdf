{#
  The newest version of each key among the rows of `relation`: newer data date (`_as_of`)
  wins, then the later file, then the later row. Raw keeps every version, so staging
  models read only rows with `_as_of` on or before the evaluation date: rebuilding with a
  past evaluation date gives that day's state (no snapshot needed, see README).
#}
{#- distinct on, not row_number() … = 1: PostgreSQL estimates a window filter at 0.5 % of
    its input (17,499 of 3.5 M city entities), and every plan above it was sized for that
    (nested loops, spills); distinct on is estimated from the keys' distinct counts. -#}
{% macro latest_version(relation, keys) -%}
    select distinct on ({{ keys | join(', ') }}) *
    from {{ relation }}
    order by {{ keys | join(', ') }}, _as_of desc, _file_id desc, _source_row desc
{%- endmacro %}

{% macro known_on_evaluation_date() -%}
    _as_of <= {{ evaluation_date() }}
{%- endmacro %}
