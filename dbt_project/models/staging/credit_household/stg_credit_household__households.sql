{{
    config(
        materialized='incremental',
        incremental_strategy='latest_version',
        on_schema_change='sync_all_columns',
        post_hook="{{ kept_version_upkeep() }}",
    )
}}
-- Households are natural persons: only the keyed hash and masked name/ID leave raw.

with

source as (
    {{ with_id_digests('credit_household') }}
    where {{ known_since_last_build() }}
),

renamed as (
    select
        -- ids
        id_number_hash,
        rating_year,
        -- householder (masked)
        xy.mask(householder_name, 'name') as householder_name_masked,
        xy.mask(id_number, 'id') as id_number_masked,
        -- place
        town,
        village,
        -- household facts
        family_size,
        main_product,
        village_rating,
        coalesce(loan_overdue_count, 0) as loan_overdue_count,
        -- amounts
        annual_income_wan,
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
