-- Each penalty with its publicity window (双公示). The window opens on the decision date and
-- ends (exclusive) at the first of: the maximum period for its 失信程度, 公示截止期 (read like
-- the maximum: decision + N months is the first day no longer published), the repair
-- date, where a repair cannot end it before the minimum period, or the day an objection
-- against it was upheld (a wrong record is withdrawn at once).
-- A repair comes from the credit_repair feed or from a repair case the credit office
-- granted (audit.cases); the same repair arriving both ways counts once, the feed's row first.

with

penalties as (
    select * from {{ ref('stg_penalty__decisions') }}
),

corrections as (
    select * from {{ ref('int_case_corrections') }} where record_kind = 'penalty'
),

repairs_from_both as (
    select decision_no, authority_uscc, repair_authority, repair_method, repaired_on,
        'credit_repair' as source_feed, source_file, source_row
    from {{ ref('stg_credit_repair__repairs') }}

    union all

    select penalties.decision_no, penalties.authority_uscc, departments.name, '信用修复申请（案件）',
        corrections.decided_on, 'case', 'audit.cases', corrections.case_id
    from corrections
    join penalties on penalties.decision_no = corrections.record_key
    cross join {{ ref('departments') }} as departments
    where corrections.case_kind = 'repair' and departments.department_code = 'credit_office'
),

repairs as (
    select distinct on (decision_no, authority_uscc) *
    from repairs_from_both
    order by decision_no, authority_uscc, source_feed = 'case', repaired_on
),

upheld_objections as (
    select distinct on (record_key) record_key as decision_no, case_id, decided_on
    from corrections
    where case_kind = 'objection'
    order by record_key, decided_on, case_id
),

-- 失信程度 left empty by the agency: the first matching row of the documented policy decides
-- (a lateral lookup: linear in penalties).
levelled as (
    select
        penalties.*,
        coalesce(penalties.dishonesty_level, policy.dishonesty_level) as effective_level,
        penalties.dishonesty_level is null as level_from_policy
    from penalties
    left join lateral (
        select policy.dishonesty_level
        from {{ ref('dishonesty_level_policy') }} as policy
        -- the agency's own level first: inside the lookup, this is a one-time filter that skips
        -- it (as the join's condition it ran for every penalty and was thrown away after; 324 s
        -- of the city's first build)
        where penalties.dishonesty_level is null
            and (policy.penalty_type is null or policy.penalty_type = any(xy.split_set(penalties.penalty_types)))
            and (policy.min_fine_wan is null or penalties.fine_wan >= policy.min_fine_wan)
        order by policy.priority
        limit 1
    ) as policy on true
),

windowed as (
    select
        levelled.*,
        (levelled.decision_date + periods.min_months * interval '1 month')::date as minimum_end,
        (levelled.decision_date + periods.max_months * interval '1 month')::date as maximum_end,
        levelled.publicity_until as deadline_end,
        repairs.repaired_on,
        repairs.repair_authority,
        repairs.repair_method,
        repairs.source_feed as repair_source_feed,
        repairs.source_file as repair_source_file,
        repairs.source_row as repair_source_row,
        -- a repair before the minimum period ends publicity only once the minimum has passed
        -- (greatest/least skip nulls in PostgreSQL: no repair, no repair end)
        case when repairs.repaired_on is not null then
            greatest(repairs.repaired_on,
                     (levelled.decision_date + periods.min_months * interval '1 month')::date)
        end as repair_end,
        upheld_objections.decided_on as objection_end,
        upheld_objections.case_id as objection_case_id
    from levelled
    join {{ ref('publicity_periods') }} as periods on periods.dishonesty_level = levelled.effective_level
    left join repairs using (decision_no, authority_uscc)
    left join upheld_objections using (decision_no)
),

ended as (
    select
        windowed.*,
        least(maximum_end, deadline_end, repair_end) as uncorrected_end,
        least(maximum_end, deadline_end, repair_end, objection_end) as publicity_end
    from windowed
)

select
    case when is_natural_person then {{ person_key('id_number_hash') }}
         else {{ organisation_key('uscc') }} end as entity_key,
    decision_no,
    authority_uscc,
    uscc,
    id_number_hash,
    is_natural_person,
    effective_level as dishonesty_level,
    level_from_policy,
    decision_date,
    decision_date as publicity_start,
    minimum_end,
    publicity_end,
    case
        when objection_end = publicity_end then 'objection'
        when repair_end = publicity_end then 'repair'
        when deadline_end = publicity_end then 'publicity_until'
        else 'maximum_period'
    end as publicity_end_reason,
    decision_date <= {{ evaluation_date() }} and {{ evaluation_date() }} < publicity_end as is_public,
    -- withdrawn by an upheld objection while it would still be public: explained by the case
    objection_case_id is not null and objection_end = publicity_end
        and objection_end <= {{ evaluation_date() }} and {{ evaluation_date() }} < uncorrected_end
        as is_withdrawn_by_objection,
    objection_case_id,
    objection_end as objection_upheld_on,
    decision_date > ({{ evaluation_date() }} - {{ scoring_parameter('penalty_recent_months') }} * interval '1 month')::date
        as is_recent,
    repaired_on,
    repair_authority,
    repair_method,
    repair_source_feed,
    repair_source_file,
    repair_source_row,
    source_file,
    source_row
from ended
