-- Every published score lies inside the floor and ceiling of the scoring policy (the
-- points of SCORE_FLOOR and SCORE_CEILING in seed scoring_rules); a policy without
-- both bounds fails too.
with bounds as (
    select
        max(points) filter (where rule_id = 'SCORE_FLOOR') as score_floor,
        max(points) filter (where rule_id = 'SCORE_CEILING') as score_ceiling
    from {{ ref('scoring_rules') }}
)

select p.entity_key, p.score, b.score_floor, b.score_ceiling
from {{ ref('entity_credit_profile') }} p
cross join bounds b
where b.score_floor is null or b.score_ceiling is null
   or p.score < b.score_floor or p.score > b.score_ceiling
