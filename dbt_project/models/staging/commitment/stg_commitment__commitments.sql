{{
    config(
        materialized='incremental',
        incremental_strategy='latest_version',
        on_schema_change='sync_all_columns',
        post_hook="{{ kept_version_upkeep() }}",
    )
}}
-- Credit commitments (信用承诺), latest reported state per 承诺编号 known on the evaluation
-- date. Natural persons leave raw only masked (name, ID number) and by the keyed hash.

with

source as (
    {{ with_id_digests('commitment') }}
    where {{ known_since_last_build() }}
),

renamed as (
    select
        -- ids
        commitment_no,
        case when subject_category = '自然人' then {{ person_key('id_number_hash') }}
             else {{ organisation_key('uscc') }} end as entity_key,
        uscc,
        id_number_hash,
        -- subject
        subject_category,
        subject_category = '自然人' as is_natural_person,
        case when subject_category = '自然人' then xy.mask(subject_name, 'name') else subject_name end
            as subject_name,
        xy.mask(id_number, 'id') as id_number_masked,
        -- the commitment
        commitment_type,
        matter,
        acceptor,
        acceptor_uscc,
        domain,
        reported_state,
        -- dates
        committed_on,
        due_on,
        verified_on,
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
