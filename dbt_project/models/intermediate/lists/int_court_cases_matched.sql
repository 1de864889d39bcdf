-- The court's cases, each matched to a subject: by its USCC, or for an old case carrying only
-- an 组织机构代码, to the registered subject whose USCC holds that code as characters 9-17
-- (match_method 'unmatched' when no registered subject, or more than one, does). Natural
-- persons keep their keyed hash (entity_key) and masked fields only; a government body
-- (USCC starting with 1) is a 政务失信 case.

with

cases as (
    select * from {{ ref('stg_court_dishonest__listings') }}
),

register as (
    select uscc from {{ ref('stg_entity_register__entities') }}
),

by_organisation_code as (
    select cases.case_no, min(register.uscc) as uscc, count(*) as matches
    from cases
    join register on substr(register.uscc, 9, 9) = cases.organisation_code
    where cases.uscc is null and not cases.is_natural_person
    group by cases.case_no
),

matched as (
    select
        cases.*,
        case
            when cases.is_natural_person then 'person'
            when cases.uscc is not null then 'uscc'
            when by_organisation_code.matches = 1 then 'organisation_code'
            else 'unmatched'
        end as match_method,
        coalesce(cases.uscc, case when by_organisation_code.matches = 1 then by_organisation_code.uscc end)
            as resolved_uscc
    from cases
    left join by_organisation_code using (case_no)
)

select
    matched.case_no,
    case when matched.is_natural_person then matched.entity_key
         when matched.resolved_uscc is not null then {{ organisation_key('matched.resolved_uscc') }} end
        as entity_key,
    matched.resolved_uscc as uscc,
    matched.uscc as uscc_as_sent,
    matched.organisation_code,
    matched.match_method,
    matched.is_natural_person,
    coalesce(left(matched.resolved_uscc, 1) = '1', false) as is_government_body,
    register.uscc is not null as is_registered,
    matched.debtor_category,
    matched.debtor_name,
    matched.id_number_masked,
    matched.court,
    matched.basis_no,
    matched.obligation,
    matched.performance,
    matched.dishonesty_kinds,
    matched.filed_on,
    matched.published_on,
    matched.removed_on,
    matched.is_listed,
    matched.source_file,
    matched.source_row
from matched
left join register on register.uscc = matched.resolved_uscc
