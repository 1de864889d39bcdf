-- Every published score equals the sum of its explanation rows (a daily build: the changed
-- entities', macros/tests/tests_on_changed_rows.sql).
with

profiles as (
    select entity_key, score from {{ ref('entity_credit_profile') }}
    where {{ changed_entities_only('entity_key') }}
),

explanations as (
    select entity_key, points from {{ ref('credit_score_explanation') }}
    where {{ changed_entities_only('entity_key') }}
)

select p.entity_key, p.score, coalesce(sum(e.points), 0) as explained
from profiles p
left join explanations e using (entity_key)
group by p.entity_key, p.score
having p.score <> coalesce(sum(e.points), 0)
