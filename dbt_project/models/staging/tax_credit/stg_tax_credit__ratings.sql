with

source as (
    select * from {{ source('tax_credit', 'tax_credit') }}
    where {{ known_on_evaluation_date() }}
),

latest as (
    {{ latest_version('source', contract_key('tax_credit')) }}
),

renamed as (
    select
        -- ids
        uscc,
        evaluation_year,
        -- descriptions
        taxpayer_name,
        -- ratings
        tax_grade,
        tax_score,
        major_tax_violator = '是' as is_major_tax_violator,
        -- amounts
        coalesce(tax_arrears_yuan, 0) as tax_arrears_yuan,
        -- dates
        data_date,
        -- lineage
        _as_of as as_of,
        _source_file as source_file,
        _source_row as source_row
    from latest
)

select * from renamed
