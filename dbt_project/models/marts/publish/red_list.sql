-- 守信激励名单 (red list): tier A (no penalty inside its window, no forcing rule) and tax
-- grade A in the latest year, valid red_list_validity_months from the evaluation date; and
-- the entries of another region's red list under a mutual-recognition agreement about a
-- subject registered here, until their 移出日期 or 有效期至. One row per entity per reason.
-- The profile is read from int_entity_credit_profile, which entity_credit_profile copies,
-- so this model need not wait for the copy and its tests.

with

own as (
    select
        profile.entity_key,
        profile.uscc,
        profile.entity_name,
        'TIER_A_TAX_A' as reason_code,
        '综合评价诚信（A 级）且最近年度纳税信用 A 级' as reason,
        profile.score,
        {{ evaluation_date() }} as start_date,
        ({{ evaluation_date() }} + {{ scoring_parameter('red_list_validity_months') }} * interval '1 month')::date - 1
            as end_date,
        'entity_credit_profile' as source_feed,
        null::text as source_file,
        null::bigint as source_row,
        null::text as source_region,
        null::text as agreement_no
    from {{ ref('int_entity_credit_profile') }} as profile
    where profile.tier = 'A' and profile.tax_grade = 'A'
),

exchanged as (
    select
        profile.entity_key,
        profile.uscc,
        profile.entity_name,
        'EXCHANGE_RED',
        entries.source_region || '：' || entries.list_name || '（' || entries.reason || '；' || entries.decider || '）',
        null::integer,
        entries.listed_on,
        entries.end_date,
        'list_exchange',
        entries.source_file,
        entries.source_row,
        entries.source_region,
        entries.agreement_no
    from {{ ref('int_exchanged_list_entries') }} as entries
    join {{ ref('int_entity_credit_profile') }} as profile using (uscc)
    where entries.list_type = '红名单' and entries.is_applied
)

select
    listed.entity_key::text as entity_key,
    listed.uscc::text as uscc,
    listed.entity_name::text as entity_name,
    listed.reason_code::text as reason_code,
    listed.reason::text as reason,
    listed.score::integer as score,
    listed.start_date::date as start_date,
    listed.end_date::date as end_date,
    listed.source_feed::text as source_feed,
    listed.source_file::text as source_file,
    listed.source_row::bigint as source_row,
    listed.source_region::text as source_region,
    listed.agreement_no::text as agreement_no,
    {{ evaluation_date() }} as evaluation_date
from (select * from own union all select * from exchanged) as listed
