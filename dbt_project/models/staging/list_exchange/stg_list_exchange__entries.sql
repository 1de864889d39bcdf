{{
    config(
        materialized='incremental',
        incremental_strategy='latest_version',
        on_schema_change='sync_all_columns',
        post_hook="{{ kept_version_upkeep() }}",
    )
}}
-- Other regions' red and black list entries (红黑名单互认), the latest version of each
-- (subject, 名单名称, 认定单位) known on the evaluation date.

with

source as (
    select * from {{ source('list_exchange', 'list_exchange') }}
    where {{ known_since_last_build() }}
),

renamed as (
    select
        -- ids
        {{ organisation_key('uscc') }} as entity_key,
        uscc,
        subject_name,
        -- the listing
        list_type,
        list_name,
        reason,
        decider,
        decider_uscc,
        source_region,
        agreement_no,
        -- dates
        listed_on,
        valid_until,
        removed_on,
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
