-- The owners of the parking records the newly loaded files re-send, as int_parking_records_merged
-- holds them before it merges those files: a re-sent record may name another owner, and the
-- owner it leaves must be recomputed too (int_entities_changed). Built just before the merge
-- (which depends on it) and read only by an incremental build.
-- depends_on: {{ ref('stg_parking__record_versions') }}

{% set merged = adapter.get_relation(
    database=target.database, schema=intermediate_relation('int_parking_records_merged').schema,
    identifier='int_parking_records_merged') if execute else none %}
{% set key = contract_key('parking') | join(', ') %}

{% if merged is not none and build_scope().kind == 'changed' %}
select distinct merged.owner_type, merged.owner_uscc, merged.owner_id_hash
from {{ merged }} as merged
where ({{ key }}) in (
    select {{ key }} from {{ ref('stg_parking__record_versions') }}
    where file_id > (select coalesce(max(file_id), 0) from {{ merged }})
)
{% else %}
select null::text as owner_type, null::text as owner_uscc, null::text as owner_id_hash
where false
{% endif %}
