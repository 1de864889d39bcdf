-- 守信激励名单 (red list): tier A (no penalty inside its window, no forcing rule) and tax
-- grade A in the latest year; valid red_list_validity_months from the evaluation date.

select
    profile.entity_key::text as entity_key,
    profile.uscc::text as uscc,
    profile.entity_name::text as entity_name,
    '综合评价诚信（A 级）且最近年度纳税信用 A 级'::text as reason,
    profile.score::integer as score,
    {{ evaluation_date() }} as start_date,
    ({{ evaluation_date() }} + {{ scoring_parameter('red_list_validity_months') }} * interval '1 month')::date - 1
        as end_date,
    {{ evaluation_date() }} as evaluation_date
from {{ ref('entity_credit_profile') }} as profile
where profile.tier = 'A' and profile.tax_grade = 'A'
