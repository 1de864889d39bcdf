-- 践诺灰名单 and 践诺红名单, one row per subject and list. Organisations and 个体工商户 only:
-- a natural person is on no public list. Grey: a commitment broken within the grey-list
-- period (from the day it broke). Red: enough recently kept commitments, none broken in the
-- same period and not grey-listed; so the two lists are disjoint (a GX gate checks it).

with

judged as (
    select * from {{ ref('int_commitments_judged') }} where not is_natural_person
),

grey_before_cases as (
    select
        entity_key,
        'grey' as list_type,
        max(uscc) as uscc,
        (array_agg(subject_name order by as_of desc, commitment_no))[1] as subject_name,
        '失信承诺 ' || count(*) || ' 件：'
            || string_agg(commitment_no || '（' || broken_reason || '）', '；' order by broken_on, commitment_no)
            as reason,
        string_agg(commitment_no, ',' order by broken_on, commitment_no) as commitment_nos,
        count(*) as commitment_count,
        min(broken_on) as start_date,
        (max(broken_on) + {{ scoring_parameter('commitment_grey_list_months') }} * interval '1 month')::date - 1
            as end_date,
        (array_agg(source_file order by broken_on desc, commitment_no))[1] as latest_source_file,
        (array_agg(source_row order by broken_on desc, commitment_no))[1] as latest_source_row
    from judged
    where is_recently_broken
    group by entity_key
),

-- a repair granted (or an objection upheld) by the credit office after the newest break
-- ends the listing at once (audit.cases); a later break lists the subject again
grey as (
    select grey_before_cases.*
    from grey_before_cases
    where not exists (
        select 1 from {{ ref('int_case_corrections') }} as corrections
        where corrections.record_kind = 'commitment_grey_list' and corrections.record_key = grey_before_cases.uscc
            and corrections.decided_on <= {{ evaluation_date() }}
            and corrections.decided_on >= (grey_before_cases.end_date + 1
                - {{ scoring_parameter('commitment_grey_list_months') }} * interval '1 month')::date
    )
),

-- broken within the red list's look-back (may be longer than the grey-list period)
recently_broken as (
    select distinct entity_key
    from judged
    where fulfilment_state = '失信' and broken_on > ({{ evaluation_date() }}
        - {{ scoring_parameter('commitment_kept_months') }} * interval '1 month')::date
),

red as (
    select
        entity_key,
        'red' as list_type,
        max(uscc) as uscc,
        (array_agg(subject_name order by as_of desc, commitment_no))[1] as subject_name,
        '近 ' || {{ scoring_parameter('commitment_kept_months') }} || ' 个月已履约承诺 ' || count(*)
            || ' 件，无失信承诺' as reason,
        string_agg(commitment_no, ',' order by kept_on, commitment_no) as commitment_nos,
        count(*) as commitment_count,
        {{ evaluation_date() }} as start_date,
        ({{ evaluation_date() }} + {{ scoring_parameter('commitment_red_list_validity_months') }}
            * interval '1 month')::date - 1 as end_date,
        (array_agg(source_file order by kept_on desc, commitment_no))[1] as latest_source_file,
        (array_agg(source_row order by kept_on desc, commitment_no))[1] as latest_source_row
    from judged
    where is_recently_kept
        and entity_key not in (select entity_key from recently_broken)
        and entity_key not in (select entity_key from grey)
    group by entity_key
    having count(*) >= {{ scoring_parameter('commitment_red_list_min_kept') }}
)

select * from grey
union all
select * from red
