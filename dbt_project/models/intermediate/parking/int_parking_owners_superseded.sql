-- The owners the parking records this build merged had before it: a re-sent record may name
-- another owner, and the owner it leaves must be recomputed too (int_entities_changed,
-- int_parties_touched). The merge records them in its own transaction (meta record_replaced
-- of int_parking_records_merged, macros/incremental_contract_key.sql); read only by an
-- incremental build. Without this run's record (the merged table was created whole) every
-- owner counts as superseded, as every row of a kept staging table counts as touched.

{% set merged = ref('int_parking_records_merged') %}
{% set replaced = contract_key_replaced_relation(merged) %}

{% if build_scope().kind != 'changed' %}
select null::text as owner_type, null::text as owner_uscc, null::text as owner_id_hash
where false
{% elif recorded_by_this_run(replaced) %}
select owner_type, owner_uscc, owner_id_hash from {{ replaced }}
{% else %}
select distinct owner_type, owner_uscc, owner_id_hash from {{ merged }}
{% endif %}
