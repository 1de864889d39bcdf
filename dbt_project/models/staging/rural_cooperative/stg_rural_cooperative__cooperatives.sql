{{
    config(
        materialized='incremental',
        incremental_strategy='latest_version',
        on_schema_change='sync_all_columns',
        post_hook="{{ kept_version_upkeep() }}",
    )
}}
with

source as (
    select * from {{ source('rural_cooperative', 'rural_cooperative') }}
    where {{ known_since_last_build() }}
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
        _file_id as file_id,
        _as_of as as_of,
        _source_file as source_file,
        _source_row as source_row
    from source
),

-- the newest version of each key (kept from build to build: macros/latest_kept_version.sql)
latest as (
    {{ latest_kept_version('renamed') }}
)

select * from latest
