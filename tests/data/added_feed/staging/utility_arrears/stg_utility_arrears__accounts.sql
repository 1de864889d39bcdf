-- Business utility accounts in arrears, latest version per 户号.

with

source as (
    select * from {{ source('utility_arrears', 'utility_arrears') }}
    where {{ known_on_evaluation_date() }}
),

latest as (
    {{ latest_version('source', contract_key('utility_arrears')) }}
),

renamed as (
    select
        -- ids
        account_no,
        uscc,
        subject_name,
        -- the arrears
        utility,
        arrears_yuan,
        -- dates
        overdue_since,
        settled_on,
        settled_on is null or settled_on > {{ evaluation_date() }} as is_in_arrears,
        -- lineage
        _as_of as as_of,
        _source_file as source_file,
        _source_row as source_row
    from latest
)

select * from renamed
