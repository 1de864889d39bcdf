with

source as (
    select * from {{ source('rural_cooperative', 'rural_cooperative') }}
    where {{ known_on_evaluation_date() }}
),

latest as (
    {{ latest_version('source', contract_key('rural_cooperative')) }}
),

renamed as (
    select
        -- ids
        uscc,
        rating_year,
        -- descriptions
        cooperative_name,
        town,
        village,
        main_product,
        annual_output,
        -- evaluation
        village_rating,
        coalesce(loan_overdue_count, 0) as loan_overdue_count,
        -- amounts
        member_households,
        total_assets_wan,
        total_liabilities_wan,
        -- lineage
        _as_of as as_of,
        _source_file as source_file,
        _source_row as source_row
    from latest
)

select * from renamed
