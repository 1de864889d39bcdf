with

source as (
    select * from {{ source('entity_register', 'entity_register') }}
    where {{ known_on_evaluation_date() }}
),

latest as (
    {{ latest_version('source', contract_key('entity_register')) }}
),

renamed as (
    select
        -- ids
        uscc,
        -- descriptions
        entity_name,
        entity_type,
        industry_section,
        town,
        -- status
        registration_status,
        -- dates
        established_on,
        -- amounts
        registered_capital_wan,
        -- lineage
        _as_of as as_of,
        _source_file as source_file,
        _source_row as source_row
    from latest
)

select * from renamed
