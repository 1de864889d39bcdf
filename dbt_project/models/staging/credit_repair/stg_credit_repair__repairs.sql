with

source as (
    select * from {{ source('credit_repair', 'credit_repair') }}
    where {{ known_on_evaluation_date() }}
),

latest as (
    {{ latest_version('source', contract_key('credit_repair')) }}
),

renamed as (
    select
        -- ids (the penalty repaired)
        decision_no,
        authority_uscc,
        -- the repair
        repair_authority,
        repair_method,
        -- dates
        repaired_on,
        -- lineage
        _as_of as as_of,
        _source_file as source_file,
        _source_row as source_row
    from latest
)

select * from renamed
