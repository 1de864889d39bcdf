{{
    config(
        materialized='incremental',
        incremental_strategy='latest_version',
        on_schema_change='sync_all_columns',
        post_hook="{{ kept_version_upkeep() }}",
    )
}}
-- Domain ratings (行业领域信用分级分类结果): the latest version of each rating (subject, domain,
-- 评价日期) known on the evaluation date. The grade stays in the department's own words;
-- int_domain_ratings_current maps it to a class.

with

source as (
    select * from {{ source('domain_rating', 'domain_rating') }}
    where {{ known_since_last_build() }}
),

renamed as (
    select
        -- ids
        {{ organisation_key('uscc') }} as entity_key,
        uscc,
        subject_name,
        domain,
        -- the rating, in the department's scale
        scale,
        grade,
        rater,
        rater_uscc,
        -- dates
        rated_on,
        valid_until,
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
