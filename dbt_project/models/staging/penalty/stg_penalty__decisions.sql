{{
    config(
        materialized='incremental',
        incremental_strategy='latest_version',
        on_schema_change='sync_all_columns',
        post_hook="{{ kept_version_upkeep() }}",
    )
}}
-- Administrative penalty decisions, latest version per (文号, 处罚机关). Natural persons
-- leave raw only masked (name, ID number) and by the keyed hash; the number never does.

with

source as (
    {{ with_id_digests('penalty') }}
    where {{ known_since_last_build() }}
),

renamed as (
    select
        -- ids
        decision_no,
        authority_uscc,
        uscc,
        id_number_hash,
        -- subject
        subject_category,
        subject_category = '自然人' as is_natural_person,
        case when subject_category = '自然人' then xy.mask(subject_name, 'name') else subject_name end
            as subject_name,
        xy.mask(legal_representative, 'name') as legal_representative_masked,
        id_type,
        xy.mask(id_number, 'id') as id_number_masked,
        -- the decision
        violation_type,
        violation_facts,
        legal_basis,
        penalty_types,
        penalty_content,
        licence_name_no,
        dishonesty_level,
        authority,
        source_unit,
        source_unit_uscc,
        remarks,
        -- amounts
        fine_wan,
        confiscation_wan,
        -- dates
        decision_date,
        valid_until,
        publicity_until,
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
