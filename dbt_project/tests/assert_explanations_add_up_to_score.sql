-- Every published score equals the sum of its explanation rows.
select p.entity_key, p.score, coalesce(sum(e.points), 0) as explained
from {{ ref('entity_credit_profile') }} p
left join {{ ref('credit_score_explanation') }} e using (entity_key)
group by p.entity_key, p.score
having p.score <> coalesce(sum(e.points), 0)
