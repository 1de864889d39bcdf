-- 信易贷 candidates: market entities in a loan-eligible tier (seed credit_tiers: A and B),
-- registered as active, not on the black list, with the facts a lender asks for.
-- The profile is read from int_entity_credit_profile, which entity_credit_profile copies,
-- so this model need not wait for the copy and its tests.

with

entities as (
    select * from {{ ref('int_entities_resolved') }} where is_market_entity
),

latest_tax as (
    select * from {{ ref('int_tax_ratings_latest') }}
)

select
    profile.entity_key::text as entity_key,
    profile.uscc::text as uscc,
    profile.entity_name::text as entity_name,
    profile.entity_type::text as entity_type,
    profile.tier::text as tier,
    profile.tier_name::text as tier_name,
    profile.score::integer as score,
    latest_tax.tax_grade::text as tax_grade,
    latest_tax.evaluation_year::integer as tax_evaluation_year,
    coalesce(latest_tax.tax_arrears_yuan, 0)::numeric(16, 2) as tax_arrears_yuan,
    profile.active_penalty_count::integer as active_penalty_count,
    entities.registration_status::text as registration_status,
    entities.established_on::date as established_on,
    entities.registered_capital_wan::numeric(16, 4) as registered_capital_wan,
    entities.industry_section::text as industry_section,
    entities.town::text as town,
    {{ evaluation_date() }} as evaluation_date
from {{ ref('int_entity_credit_profile') }} as profile
join entities on entities.entity_key = profile.entity_key
left join latest_tax on latest_tax.entity_key = profile.entity_key
join {{ ref('credit_tiers') }} as tiers on tiers.tier = profile.tier
where tiers.loan_eligible
    and entities.registration_status in ('存续', '在业')
    and not exists (select 1 from {{ ref('black_list') }} as listed where listed.entity_key = profile.entity_key)
