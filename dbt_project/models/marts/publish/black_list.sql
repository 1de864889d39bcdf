-- 严重失信主体名单: market entities with a 严重 penalty inside its publicity window, listed
-- by the tax bureau as 重大税收违法失信主体 (for major_tax_violator_months), on the court's
-- list of dishonest judgment debtors (until its 移除日期), or on another region's black list
-- under a mutual-recognition agreement (until its 移出日期 or 有效期至).
-- One row per entity per reason; the list ends with the reason (end_date null: open).

with

entities as (
    select uscc, display_name as entity_name from {{ ref('int_entities_resolved') }} where is_market_entity
),

serious_penalties as (
    select
        windows.uscc,
        'PEN_SERIOUS' as reason_code,
        '严重失信行政处罚（' || windows.decision_no || '）公示期内' as reason,
        windows.publicity_start as start_date,
        windows.publicity_end - 1 as end_date,
        'penalty' as source_feed,
        windows.source_file,
        windows.source_row,
        null::text as source_region,
        null::text as agreement_no
    from {{ ref('int_penalties_windowed') }} as windows
    where windows.is_public and windows.dishonesty_level = '严重' and not windows.is_natural_person
),

major_tax_violators as (
    select
        uscc,
        'TAX_MAJOR_VIOLATOR' as reason_code,
        '重大税收违法失信主体（' || evaluation_year || ' 年度纳税信用评价）' as reason,
        data_date as start_date,
        (data_date + {{ scoring_parameter('major_tax_violator_months') }} * interval '1 month')::date - 1 as end_date,
        'tax_credit' as source_feed,
        source_file,
        source_row,
        null::text,
        null::text
    from {{ ref('int_tax_ratings_latest') }}
    where is_major_tax_violator
),

court_dishonest as (
    select
        uscc,
        'COURT_DISHONEST',
        '失信被执行人（' || court || ' ' || case_no || '）',
        published_on,
        removed_on - 1,
        'court_dishonest',
        source_file,
        source_row,
        null::text,
        null::text
    from {{ ref('int_court_cases_matched') }}
    where not is_natural_person and uscc is not null
),

exchanged as (
    select
        uscc,
        'EXCHANGE_BLACK',
        source_region || '：' || list_name || '（' || reason || '；' || decider || '）',
        listed_on,
        end_date,
        'list_exchange',
        source_file,
        source_row,
        source_region,
        agreement_no
    from {{ ref('int_exchanged_list_entries') }}
    where list_type = '黑名单'
),

listed as (
    select * from serious_penalties
    union all
    select * from major_tax_violators
    union all
    select * from court_dishonest
    union all
    select * from exchanged
)

select
    {{ organisation_key('listed.uscc') }}::text as entity_key,
    listed.uscc::text as uscc,
    entities.entity_name::text as entity_name,
    listed.reason_code::text as reason_code,
    listed.reason::text as reason,
    listed.start_date::date as start_date,
    listed.end_date::date as end_date,
    listed.source_feed::text as source_feed,
    listed.source_file::text as source_file,
    listed.source_row::bigint as source_row,
    listed.source_region::text as source_region,
    listed.agreement_no::text as agreement_no,
    {{ evaluation_date() }} as evaluation_date
from listed
join entities using (uscc)
where listed.start_date <= {{ evaluation_date() }}
    and (listed.end_date is null or {{ evaluation_date() }} <= listed.end_date)
