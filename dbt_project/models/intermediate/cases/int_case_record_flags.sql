-- Published records under objection (异议处理中), one row per record: an objection still open
-- on the evaluation date, or one upheld against a record another authority owns until that
-- authority's feed sends a newer version of it. The oldest such case is named.

with

objections as (
    select * from {{ ref('stg_cases__cases') }} where case_kind = 'objection'
),

tax_ratings as (
    select * from {{ ref('int_tax_ratings_latest') }}
),

flagged as (
    select record_kind, record_key, case_id
    from objections
    where is_open

    union all

    select objections.record_kind, objections.record_key, objections.case_id
    from objections
    where objections.state = 'upheld' and not objections.decided_by_credit_office
        and not exists (
            select 1 from tax_ratings
            where objections.record_kind = 'tax_grade' and tax_ratings.uscc = objections.record_key
                and tax_ratings.as_of > objections.decided_on
        )
)

select distinct on (record_kind, record_key)
    record_kind,
    record_key,
    true as under_objection,
    case_id as objection_case_id
from flagged
order by record_kind, record_key, case_id
