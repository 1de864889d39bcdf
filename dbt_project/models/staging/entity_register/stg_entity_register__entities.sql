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
    select * from {{ source('entity_register', 'entity_register') }}
    where {{ known_since_last_build() }}
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
