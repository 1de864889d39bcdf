-- The court's list of dishonest judgment debtors, latest version per 案号. Natural persons
-- leave raw only masked (name, ID number) and by the keyed hash.

with

source as (
    {{ with_id_digests('court_dishonest') }}
    where {{ known_on_evaluation_date() }}
),

latest as (
    {{ latest_version('source', contract_key('court_dishonest')) }}
),

renamed as (
    select
        -- ids (an old case with only an 组织机构代码 gets its key in int_court_cases_matched)
        case_no,
        case when debtor_category = '自然人' then {{ person_key('id_number_hash') }}
             when uscc is not null then {{ organisation_key('uscc') }} end as entity_key,
        uscc,
        organisation_code,
        id_number_hash,
        -- debtor
        debtor_category,
        debtor_category = '自然人' as is_natural_person,
        case when debtor_category = '自然人' then xy.mask(debtor_name, 'name') else debtor_name end
            as debtor_name,
        xy.mask(id_number, 'id') as id_number_masked,
        xy.mask(legal_representative, 'name') as legal_representative_masked,
        -- the case
        court,
        basis_no,
        obligation,
        performance,
        dishonesty_kinds,
        -- dates
        filed_on,
        published_on,
        removed_on,
        published_on <= {{ evaluation_date() }}
            and (removed_on is null or removed_on > {{ evaluation_date() }}) as is_listed,
        -- lineage
        _as_of as as_of,
        _source_file as source_file,
        _source_row as source_row
    from latest
)

select * from renamed
