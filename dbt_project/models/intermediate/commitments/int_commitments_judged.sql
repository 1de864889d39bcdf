-- Each commitment judged for the evaluation date: 履约中, 已履约 (践诺) or 失信, with why and
-- the source rows behind it. Broken, first reason first: reported 未履约; 履约期限 passed
-- while still 履约中 (the deadline day itself is not yet broken); a penalty of the same
-- subject in the commitment's domain decided after the 承诺日期, whatever the state reported
-- (a penalty's domain is its 处罚机关's: seed departments, column domains).

with

commitments as (
    select * from {{ ref('stg_commitment__commitments') }}
),

authority_domains as (
    select departments.uscc as authority_uscc, btrim(domain) as domain
    from {{ ref('departments') }} as departments
    cross join lateral unnest(string_to_array(departments.domains, '|')) as domain
),

-- the first such penalty, among all penalties known (disclosed or not: a repaired or
-- expired penalty still broke the commitment)
penalties_in_domain as (
    select distinct on (commitments.commitment_no)
        commitments.commitment_no,
        penalties.decision_no as penalty_decision_no,
        penalties.authority_uscc as penalty_authority_uscc,
        penalties.decision_date as penalty_decision_date,
        penalties.source_file as penalty_source_file,
        penalties.source_row as penalty_source_row
    from commitments
    join {{ ref('int_penalties_windowed') }} as penalties
        on penalties.entity_key = commitments.entity_key
        and penalties.decision_date > commitments.committed_on
        and penalties.decision_date <= {{ evaluation_date() }}
    join authority_domains
        on authority_domains.authority_uscc = penalties.authority_uscc
        and authority_domains.domain = commitments.domain
    order by commitments.commitment_no, penalties.decision_date, penalties.decision_no, penalties.authority_uscc
),

-- the last day of the "due within N working days" horizon: the Nth working day after the
-- evaluation date (policy.working_days; null past the calendar, then nothing is due soon)
due_horizon as (
    select max(day) as last_day
    from (
        select day, row_number() over (order by day) as working_day_number
        from {{ ref('working_days') }}
        where is_working_day and day > {{ evaluation_date() }}
    ) as ahead
    where working_day_number = {{ scoring_parameter('commitment_due_within_working_days') }}
),

reasoned as (
    select
        commitments.*,
        case
            when commitments.reported_state = '未履约' then 'reported'
            when commitments.reported_state = '履约中' and commitments.due_on < {{ evaluation_date() }}
                then 'deadline'
            when penalties.penalty_decision_no is not null then 'penalty'
        end as broken_reason_code,
        penalties.penalty_decision_no,
        penalties.penalty_authority_uscc,
        penalties.penalty_decision_date,
        penalties.penalty_source_file,
        penalties.penalty_source_row
    from commitments
    left join penalties_in_domain as penalties using (commitment_no)
),

judged as (
    select
        reasoned.*,
        case
            when broken_reason_code is not null then '失信'
            when reported_state = '已履约' then '已履约'
            else '履约中'
        end as fulfilment_state,
        case broken_reason_code
            when 'reported' then '受理单位核查未履约'
            when 'deadline' then '履约期限已过仍未履约'
            when 'penalty' then '承诺后在其监管领域受到行政处罚（' || penalty_decision_no || '）'
        end as broken_reason,
        case broken_reason_code
            when 'reported' then least(coalesce(verified_on, as_of), {{ evaluation_date() }})
            when 'deadline' then due_on + 1
            when 'penalty' then penalty_decision_date
        end as broken_on,
        case when broken_reason_code is null and reported_state = '已履约' then verified_on end as kept_on
    from reasoned
)

select
    judged.commitment_no,
    judged.entity_key,
    judged.uscc,
    judged.id_number_hash,
    judged.subject_category,
    judged.is_natural_person,
    judged.subject_name,
    judged.id_number_masked,
    judged.commitment_type,
    judged.matter,
    judged.acceptor,
    judged.acceptor_uscc,
    judged.domain,
    judged.reported_state,
    judged.committed_on,
    judged.due_on,
    judged.verified_on,
    -- the judgement
    judged.fulfilment_state,
    judged.broken_reason_code,
    judged.broken_reason,
    judged.broken_on,
    judged.kept_on,
    coalesce(judged.fulfilment_state = '履约中' and judged.due_on >= {{ evaluation_date() }}
        and judged.due_on <= due_horizon.last_day, false) as is_due_soon,
    -- in the subject's credit record: broken within the grey-list period, kept recently
    judged.fulfilment_state = '失信' and judged.broken_on > ({{ evaluation_date() }}
        - {{ scoring_parameter('commitment_grey_list_months') }} * interval '1 month')::date
        as is_recently_broken,
    judged.fulfilment_state = '已履约' and judged.kept_on <= {{ evaluation_date() }}
        and judged.kept_on > ({{ evaluation_date() }}
            - {{ scoring_parameter('commitment_kept_months') }} * interval '1 month')::date
        as is_recently_kept,
    -- lineage: the commitment's row, and the penalty's when one broke it
    judged.penalty_decision_no,
    judged.penalty_authority_uscc,
    judged.penalty_decision_date,
    judged.penalty_source_file,
    judged.penalty_source_row,
    judged.as_of,
    judged.source_file,
    judged.source_row
from judged
cross join due_horizon
