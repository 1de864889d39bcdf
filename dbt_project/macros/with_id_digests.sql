{#
  The raw rows of a feed with the keyed hash of each of its personal ID columns (from its
  contract) as `<column>_hash`, from raw.personal_id_digests (one digest per distinct ID
  number, made at ingest with a key the database never sees). Staging selects the hash,
  never the number. Both sources are named while parsing too, so dbt knows the lineage.
#}
{% macro with_id_digests(feed) -%}
    {%- set digests = source('xinyong', 'personal_id_digests') -%}
    select raw_rows.*
        {%- for column in contract_personal_ids(feed) %},
        digests_{{ loop.index }}.digest as {{ column }}_hash
        {%- endfor %}
    from {{ source(feed, feed) }} as raw_rows
    {%- for column in contract_personal_ids(feed) %}
    -- a row without an ID joins on a value of its own that no digest has ('~' file:row): as
    -- a null it would go to one hash bucket with every other ID-less row (most penalties,
    -- the units' parking records), and PostgreSQL splits a skewed hash into thousands of
    -- batches (32,768 for the city's penalties: 5 of int_penalties_windowed's 7 minutes)
    left join {{ digests }} as digests_{{ loop.index }}
        on digests_{{ loop.index }}.id_value
            = coalesce(raw_rows.{{ column }}, '~' || raw_rows._file_id || ':' || raw_rows._source_row)
    {%- endfor %}
{%- endmacro %}
