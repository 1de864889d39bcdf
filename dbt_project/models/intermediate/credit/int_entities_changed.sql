-- The entities this build recomputes (macros/incremental_by_entity.sql): the market entities
-- whose inputs changed (int_entity_input_fingerprints: any feed but parking, the cases, and
-- what the evaluation date alone changed), and the parking owners, persons included, of the
-- parking records loaded since the last build (file id above its watermark; and the owners
-- those records had before, int_parking_owners_superseded) or entered
-- after its evaluation date up to this one, or under a parking correction (a handful; cases
-- can take effect on a later day). With no usable state (first build, --full-refresh, an
-- earlier date, policy or models changed) every entity is recomputed and this set is not read.
-- depends_on: {{ ref('int_parking_records_merged') }}
-- depends_on: {{ ref('int_parking_owners_superseded') }}

{% set scope = build_scope() %}

with

changed_inputs as (
    select {{ organisation_key('uscc') }} as entity_key, uscc, null::text as id_number_hash
    from {{ ref('int_entity_input_fingerprints') }}
    where changed_in = '{{ invocation_id }}'
),

{% if scope.kind == 'changed' %}
new_parking_records as (
    select owner_type, owner_uscc, owner_id_hash
    from {{ ref('int_parking_records_merged') }}
    where file_id > {{ scope.parking_file_id }}
    union all
    select owner_type, owner_uscc, owner_id_hash
    from {{ ref('int_parking_records_merged') }}
    where entered_at >= date '{{ scope.evaluation_date }}' + 1 and entered_at < {{ evaluation_date() }} + 1
    union all
    select owner_type, owner_uscc, owner_id_hash from {{ ref('int_parking_owners_superseded') }}
),
{% else %}
new_parking_records as (
    select null::text as owner_type, null::text as owner_uscc, null::text as owner_id_hash where false
),
{% endif %}

parking_owners as (
    select
        case when owner_type = '单位' then {{ organisation_key('owner_uscc') }}
             else {{ person_key('owner_id_hash') }} end as entity_key,
        case when owner_type = '单位' then owner_uscc end as uscc,
        case when owner_type = '单位' then null else owner_id_hash end as id_number_hash
    from new_parking_records
),

corrected_parking_owners as (
    select entities.entity_key, entities.uscc, entities.id_number_hash
    from {{ ref('int_case_corrections') }} as corrections
    join {{ ref('int_entities_resolved') }} as entities on entities.entity_key = corrections.record_key
    where corrections.record_kind = 'parking'
)

select entity_key, uscc, id_number_hash from changed_inputs
union
select entity_key, uscc, id_number_hash from parking_owners
union
select entity_key, uscc, id_number_hash from corrected_parking_owners
