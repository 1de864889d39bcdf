{#
  The rows of a raw relation with the keyed hash of each personal ID column as
  `<column>_hash`, from raw.personal_id_digests (one digest per distinct ID number, made at
  ingest with a key the database never sees). Staging selects the hash, never the number.
#}
{% macro with_id_digests(relation, id_columns) -%}
    select raw_rows.*
        {%- for column in id_columns %},
        digests_{{ loop.index }}.digest as {{ column }}_hash
        {%- endfor %}
    from {{ relation }} as raw_rows
    {%- for column in id_columns %}
    left join {{ source('xinyong', 'personal_id_digests') }} as digests_{{ loop.index }}
        on digests_{{ loop.index }}.id_value = raw_rows.{{ column }}
    {%- endfor %}
{%- endmacro %}
