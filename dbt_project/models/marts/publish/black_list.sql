-- 严重失信主体名单: market entities with a 严重 penalty inside its publicity window, or
-- listed by the tax bureau as 重大税收违法失信主体 (for major_tax_violator_months).
-- One row per entity per reason; the list ends with the reason.

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
        windows.source_row
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
        source_row
    from {{ ref('int_tax_ratings_latest') }}
    where is_major_tax_violator
),

listed as (
    select * from serious_penalties
    union all
    select * from major_tax_violators
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
    {{ evaluation_date() }} as evaluation_date
from listed
join entities using (uscc)
where listed.start_date <= {{ evaluation_date() }} and {{ evaluation_date() }} <= listed.end_date
