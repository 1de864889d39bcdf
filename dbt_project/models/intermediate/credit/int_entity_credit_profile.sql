{{
    config(
        materialized='incremental',
        incremental_strategy='changed_entities',
        unique_key='uscc',
        meta={'changed_key': 'uscc'},
        indexes=[{'columns': ['uscc']}],
    )
}}
-- depends_on: {{ ref('int_entities_changed') }}
-- The content of the published entity_credit_profile, kept incrementally by entity
-- (macros/incremental_by_entity.sql): one row per market entity (registered; natural persons
-- never), with its score, supervision tier and the facts behind the tier. The mart copies it
-- and adds the evaluation date, which would otherwise rewrite every row every day.

with

entities as (
    select * from {{ ref('int_entities_resolved') }}
    where is_market_entity and {{ only_changed_entities('uscc') }}
),

tiered as (
    select * from {{ ref('int_entities_tiered') }}
),

latest_tax as (
    select entity_key, tax_grade from {{ ref('int_tax_ratings_latest') }}
),

active_penalties as (
    select uscc,
        count(*) as active_penalty_count,
        count(*) filter (where dishonesty_level = '严重') as active_serious_penalty_count
    from {{ ref('int_penalties_windowed') }}
    where is_public and not is_natural_person
    group by uscc
)

select
    tiered.entity_key::text as entity_key,
    entities.uscc::text as uscc,
    entities.display_name::text as entity_name,
    entities.entity_type::text as entity_type,
    entities.registration_status::text as registration_status,
    entities.town::text as town,
    tiered.score::integer as score,
    tiered.tier::text as tier,
    tiers.tier_name::text as tier_name,
    tiered.tier_overridden::boolean as tier_overridden,
    tiered.override_rules::text as override_rules,
    tiers.inspection_ratio::numeric(5, 4) as inspection_ratio,
    latest_tax.tax_grade::text as tax_grade,
    coalesce(active_penalties.active_penalty_count, 0)::integer as active_penalty_count,
    coalesce(active_penalties.active_serious_penalty_count, 0)::integer as active_serious_penalty_count,
    {{ objection_flag_columns() }}
from entities
join tiered using (entity_key)
join {{ ref('credit_tiers') }} as tiers on tiers.tier = tiered.tier
left join latest_tax using (entity_key)
left join active_penalties on active_penalties.uscc = entities.uscc
{{ objection_flag_join('tax_grade', 'entities.uscc') }}
