-- 政务失信: government bodies (USCC starting with 1) on the court's list of dishonest judgment
-- debtors, every case the court has sent, listed or cleared, with the days it has been (or
-- was) on the list, so the district can clear them with priority and track them until they
-- leave.

select
    cases.case_no::text as case_no,
    cases.uscc::text as uscc,
    cases.debtor_name::text as body_name,
    cases.court::text as court,
    cases.basis_no::text as basis_no,
    cases.obligation::text as obligation,
    cases.performance::text as performance,
    cases.dishonesty_kinds::text as dishonesty_kinds,
    cases.filed_on::date as filed_on,
    cases.published_on::date as published_on,
    cases.removed_on::date as removed_on,
    (cases.removed_on is not null and cases.removed_on <= {{ evaluation_date() }})::boolean as is_cleared,
    (least(cases.removed_on, {{ evaluation_date() }}) - cases.published_on)::integer as days_listed,
    'court_dishonest'::text as source_feed,
    cases.source_file::text as source_file,
    cases.source_row::bigint as source_row,
    {{ evaluation_date() }} as evaluation_date
from {{ ref('int_court_cases_matched') }} as cases
where cases.is_government_body and cases.published_on <= {{ evaluation_date() }}
