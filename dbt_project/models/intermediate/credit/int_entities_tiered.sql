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
-- Score and tier of every market entity: the score picks the tier by threshold
-- (seed credit_tiers); a rule with forces_tier caps it (D for 吊销, 重大税收违法失信主体 or a
-- 严重 penalty inside its window; B, i.e. never A, for any penalty inside its window or a
-- 践诺灰名单 listing).

with

scores as (
    select
        entity_key,
        uscc,
        sum(points)::integer as score,
        -- the most severe cap wins (D before C ...)
        max(forces_tier) as forced_tier,
        string_agg(distinct rule_id, ',' order by rule_id) filter (where forces_tier is not null) as forcing_rules
    from {{ ref('int_entity_rule_hits') }}
    where {{ only_changed_entities('uscc') }}
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
    scored.entity_key,
    scored.uscc,
    scored.score,
    scored.score_tier,
    greatest(scored.score_tier, coalesce(scored.forced_tier, 'A')) as tier,
    coalesce(scored.forced_tier > scored.score_tier, false) as tier_overridden,
    case when scored.forced_tier > scored.score_tier then scored.forcing_rules end as override_rules
from scored
