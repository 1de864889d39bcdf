with

source as (
    select * from {{ source('tax_credit', 'tax_credit') }}
),

latest as (
    select *,
        row_number() over (
            partition by uscc, evaluation_year order by _as_of desc, _file_id desc, _source_row desc
        ) as version_rank
    from source
),

renamed as (
    select
        -- ids
        uscc,
        evaluation_year,
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
    where version_rank = 1
)

select * from renamed
