-- A tier not lowered by a forcing rule is the one whose min_score (seed credit_tiers) is the
-- highest the score reaches (a daily build: the changed entities').
select p.entity_key, p.score, p.tier, by_score.tier as tier_by_score
from {{ ref('entity_credit_profile') }} p
left join lateral (
    select t.tier from {{ ref('credit_tiers') }} t
    where p.score >= t.min_score
    order by t.min_score desc
    limit 1
) by_score on true
where not p.tier_overridden
  and {{ changed_entities_only('p.entity_key') }}
  and p.tier is distinct from by_score.tier
