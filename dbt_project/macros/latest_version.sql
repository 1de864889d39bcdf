{#
  The newest version of each key among the rows of `relation`: newer data date (`_as_of`)
  wins, then the later file, then the later row. Raw keeps every version, so staging
  models read only rows with `_as_of` on or before the evaluation date: rebuilding with a
  past evaluation date gives that day's state (no snapshot needed, see README).
#}
{% macro latest_version(relation, keys) -%}
    select *
    from (
        select *,
            row_number() over (
                partition by {{ keys | join(', ') }}
                order by _as_of desc, _file_id desc, _source_row desc
            ) as version_rank
        from {{ relation }}
    ) as versions
    where version_rank = 1
{%- endmacro %}

{% macro known_on_evaluation_date() -%}
    _as_of <= {{ evaluation_date() }}
{%- endmacro %}
