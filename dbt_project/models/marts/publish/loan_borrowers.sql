-- Borrowers per lender, published: the query API reads a lender's watched borrowers from the
-- live publication, consistent with the profiles it serves beside them.

select
    lender_uscc::text as lender_uscc,
    lender::text as lender,
    entity_key::text as entity_key,
    uscc::text as uscc,
    borrower_name::text as borrower_name,
    is_watched::boolean as is_watched,
    applications::integer as applications,
    approvals::integer as approvals,
    pending::integer as pending,
    open_loans::integer as open_loans,
    troubled_loans::integer as troubled_loans,
    granted_wan::numeric(16, 4) as granted_wan,
    lent_wan::numeric(16, 4) as lent_wan,
    latest_application_no::text as latest_application_no,
    latest_product::text as latest_product,
    latest_decision::text as latest_decision,
    latest_loan_state::text as latest_loan_state,
    latest_applied_on::date as latest_applied_on,
    first_applied_on::date as first_applied_on,
    last_reported_on::date as last_reported_on,
    source_file::text as source_file,
    source_row::bigint as source_row,
    {{ evaluation_date() }} as evaluation_date
from {{ ref('int_loan_borrowers') }}
