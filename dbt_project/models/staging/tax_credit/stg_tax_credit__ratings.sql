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
    select * from {{ source('tax_credit', 'tax_credit') }}
    where {{ known_since_last_build() }}
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
