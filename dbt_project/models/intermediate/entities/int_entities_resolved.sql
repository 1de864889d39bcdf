{{
    config(
        materialized='incremental',
        incremental_strategy='changed_entities',
        unique_key='entity_key',
        meta={'changed_key': 'entity_key', 'changed_in': 'int_parties_touched'},
        on_schema_change='sync_all_columns',
        post_hook="{{ kept_unique_index('entity_key') }}",
    )
}}
-- Every party any feed mentions, resolved to one key: organisations and individual
-- businesses by USCC, natural persons by the keyed hash of their ID number.
-- Market entities (is_market_entity) are the registered ones: they alone get a public tier,
-- and this is where scoring and the marts take them and their register facts from.
-- Kept from build to build: a daily build recomputes only the parties whose mentions it
-- touched (int_parties_touched); a party no feed mentions any more loses its row.

{% set update = is_incremental() and build_scope().kind == 'changed' %}
{% set touched = ref('int_parties_touched') %}
{#- the touched parties filter every arm of the unions: PostgreSQL does not push a semi-join
    into them, and one filter over a union read every parking record's owner -#}

with

register as (
    select uscc, entity_name, entity_type, town, registration_status, established_on,
        registered_capital_wan, industry_section, source_file, source_row
    from {{ ref('stg_entity_register__entities') }}
    where true {% if update %}and uscc in (select uscc from {{ touched }}){% endif %}
),

organisation_mentions as (
    select uscc, entity_name as name, 1 as name_priority, 'entity_register' as feed
    from register
    union all
    select uscc, cooperative_name, 2, 'rural_cooperative' from {{ ref('stg_rural_cooperative__cooperatives') }}
    where true {% if update %}and uscc in (select uscc from {{ touched }}){% endif %}
    union all
    select uscc, taxpayer_name, 3, 'tax_credit' from {{ ref('stg_tax_credit__ratings') }}
    where true {% if update %}and uscc in (select uscc from {{ touched }}){% endif %}
    union all
    select uscc, subject_name, 4, 'penalty' from {{ ref('stg_penalty__decisions') }}
    where not is_natural_person and uscc is not null {% if update %}and uscc in (select uscc from {{ touched }}){% endif %}
    union all
    select distinct owner_uscc, null::text, 5, 'parking' from {{ ref('int_parking_records_merged') }}
    where owner_uscc is not null {% if update %}and owner_uscc in (select uscc from {{ touched }}){% endif %}
),

organisations as (
    select
        {{ organisation_key('uscc') }} as entity_key,
        'organisation' as party_kind,
        uscc,
        null::text as id_number_hash,
        (array_agg(name order by name_priority, name) filter (where name is not null))[1] as display_name,
        string_agg(distinct feed, ',' order by feed) as feeds
    from organisation_mentions
    group by uscc
),

person_mentions as (
    select id_number_hash, householder_name_masked as masked_name, 1 as name_priority, 'credit_household' as feed
    from {{ ref('stg_credit_household__households') }}
    where true {% if update %}and id_number_hash in (select id_number_hash from {{ touched }}){% endif %}
    union all
    select id_number_hash, subject_name, 2, 'penalty' from {{ ref('stg_penalty__decisions') }}
    where is_natural_person and id_number_hash is not null
        {% if update %}and id_number_hash in (select id_number_hash from {{ touched }}){% endif %}
    union all
    select distinct owner_id_hash, null::text, 3, 'parking' from {{ ref('int_parking_records_merged') }}
    where owner_id_hash is not null {% if update %}and owner_id_hash in (select id_number_hash from {{ touched }}){% endif %}
),

persons as (
    select
        {{ person_key('id_number_hash') }} as entity_key,
        'natural_person' as party_kind,
        null::text as uscc,
        id_number_hash,
        (array_agg(masked_name order by name_priority, masked_name) filter (where masked_name is not null))[1] as display_name,
        string_agg(distinct feed, ',' order by feed) as feeds
    from person_mentions
    group by id_number_hash
),

parties as (
    select * from organisations
    union all
    select * from persons
)

select
    parties.entity_key,
    parties.party_kind,
    parties.uscc,
    parties.id_number_hash,
    parties.display_name,
    register.uscc is not null as is_market_entity,
    register.entity_type,
    register.town,
    register.registration_status,
    register.established_on,
    register.registered_capital_wan,
    register.industry_section,
    register.source_file as register_source_file,
    register.source_row as register_source_row,
    parties.feeds
from parties
left join register on register.uscc = parties.uscc
