-- 公共信用综合评价: one row per market entity, with its score and supervision tier.

with

entities as (
    select * from {{ ref('stg_entity_register__entities') }}
),

scores as (
    select
        entity_key,
        uscc,
        sum(points)::integer as score,
        -- the most severe forced tier wins (D before C ...)
        max(forces_tier) as forced_tier
    from {{ ref('int_entity_rule_hits') }}
    group by entity_key, uscc
),

tiers as (
    select * from {{ ref('credit_tiers') }}
),

scored as (
    select
        scores.*,
        (select t.tier from tiers t where scores.score >= t.min_score order by t.min_score desc limit 1)
            as score_tier
    from scores
)

select
    scored.entity_key::text as entity_key,
    entities.uscc::text as uscc,
    entities.entity_name::text as entity_name,
    entities.entity_type::text as entity_type,
    entities.registration_status::text as registration_status,
    entities.town::text as town,
    scored.score::integer as score,
    greatest(scored.score_tier, coalesce(scored.forced_tier, 'A'))::text as tier,
    tiers.tier_name::text as tier_name,
    (scored.forced_tier is not null and scored.forced_tier > scored.score_tier) as tier_overridden,
    tiers.inspection_ratio::numeric(5, 4) as inspection_ratio,
    {{ evaluation_date() }} as evaluation_date
from scored
join entities using (uscc)
join tiers on tiers.tier = greatest(scored.score_tier, coalesce(scored.forced_tier, 'A'))
