with

source as (
    select * from {{ source('entity_register', 'entity_register') }}
),

latest as (
    select *,
        row_number() over (
            partition by uscc order by _as_of desc, _file_id desc, _source_row desc
        ) as version_rank
    from source
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
    where version_rank = 1
)

select * from renamed
