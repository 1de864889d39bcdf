-- Other regions' red and black list entries (红黑名单互认), the latest version of each
-- (subject, 名单名称, 认定单位) known on the evaluation date.

with

source as (
    select * from {{ source('list_exchange', 'list_exchange') }}
    where {{ known_on_evaluation_date() }}
),

latest as (
    {{ latest_version('source', contract_key('list_exchange')) }}
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
        _as_of as as_of,
        _source_file as source_file,
        _source_row as source_row
    from latest
)

select * from renamed
