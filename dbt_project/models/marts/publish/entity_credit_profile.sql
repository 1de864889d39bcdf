-- 公共信用综合评价: one row per market entity (registered; natural persons never), with its
-- score, supervision tier and the facts behind the tier. A copy of the incrementally kept
-- int_entity_credit_profile into the candidate schema, with the evaluation date.

select
    entity_key,
    uscc,
    entity_name,
    entity_type,
    registration_status,
    town,
    score,
    tier,
    tier_name,
    tier_overridden,
    override_rules,
    inspection_ratio,
    tax_grade,
    active_penalty_count,
    active_serious_penalty_count,
    {{ evaluation_date() }} as evaluation_date,
    under_objection,
    objection_case_id
from {{ ref('int_entity_credit_profile') }}
