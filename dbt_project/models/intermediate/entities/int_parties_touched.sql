-- The parties whose mentions changed since the last build, which int_entities_resolved
-- recomputes: the USCCs and ID hashes of every row the kept staging tables replaced or wrote
-- in this build (the replaced rows' too: a corrected penalty can name another party), and the
-- owners of the parking records merged from files loaded since the last build, as they are
-- and as they were (int_parking_owners_superseded). With no usable state (build_scope 'all')
-- every party is recomputed and this set is empty and not read.
-- depends_on: {{ ref('stg_entity_register__entities') }}
-- depends_on: {{ ref('stg_rural_cooperative__cooperatives') }}
-- depends_on: {{ ref('stg_tax_credit__ratings') }}
-- depends_on: {{ ref('stg_penalty__decisions') }}
-- depends_on: {{ ref('stg_credit_household__households') }}
-- depends_on: {{ ref('int_parking_records_merged') }}
-- depends_on: {{ ref('int_parking_owners_superseded') }}

{% set scope = build_scope() %}

{% if scope.kind == 'changed' %}

with

mentions as (
    select uscc, null::text as id_number_hash
    from {{ kept_version_touched_rows('stg_entity_register__entities') }}
    union all
    select uscc, null from {{ kept_version_touched_rows('stg_rural_cooperative__cooperatives') }}
    union all
    select uscc, null from {{ kept_version_touched_rows('stg_tax_credit__ratings') }}
    union all
    select uscc, id_number_hash from {{ kept_version_touched_rows('stg_penalty__decisions') }}
    union all
    select null, id_number_hash from {{ kept_version_touched_rows('stg_credit_household__households') }}
    union all
    select owner_uscc, owner_id_hash from {{ ref('int_parking_records_merged') }}
    where file_id > {{ scope.parking_file_id }}
    union all
    select owner_uscc, owner_id_hash from {{ ref('int_parking_owners_superseded') }}
)

select {{ organisation_key('uscc') }} as entity_key, uscc, null::text as id_number_hash
from (select distinct uscc from mentions where uscc is not null) as organisations
union all
select {{ person_key('id_number_hash') }}, null, id_number_hash
from (select distinct id_number_hash from mentions where id_number_hash is not null) as persons

{% else %}

select null::text as entity_key, null::text as uscc, null::text as id_number_hash
where false

{% endif %}
