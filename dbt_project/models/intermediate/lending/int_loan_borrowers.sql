-- Borrowers per lender: one row per financial institution and borrower that applied to it,
-- from the newest state of each application (loan_outcome). A lender watches (贷中跟踪) the
-- borrowers it lends to, until the loan is settled, and the applicants it is still reviewing
-- (贷前审核); the query API's watched borrowers and the lender-side risk warnings read this.

with

applications as (
    select * from {{ ref('stg_loan_outcome__applications') }}
),

newest as (
    -- the borrower's most recent application to this lender names it and its state
    select distinct on (lender_uscc, entity_key)
        lender_uscc, entity_key, uscc, borrower_name, lender,
        application_no, product, decision, loan_state, applied_on, source_file, source_row
    from applications
    order by lender_uscc, entity_key, applied_on desc, application_no desc
),

per_borrower as (
    select
        lender_uscc,
        entity_key,
        count(*) as applications,
        count(*) filter (where is_approved) as approvals,
        count(*) filter (where decision = '审批中') as pending,
        count(*) filter (where is_approved and loan_state is distinct from '结清') as open_loans,
        count(*) filter (where loan_state in ('逾期', '不良')) as troubled_loans,
        coalesce(sum(granted_wan) filter (where is_approved), 0) as granted_wan,
        sum(lent_wan) as lent_wan,
        min(applied_on) as first_applied_on,
        max(as_of) as last_reported_on
    from applications
    group by lender_uscc, entity_key
)

select
    -- ids
    per_borrower.lender_uscc,
    newest.lender,
    per_borrower.entity_key,
    newest.uscc,
    newest.borrower_name,
    -- the relationship
    (per_borrower.open_loans > 0 or per_borrower.pending > 0) as is_watched,
    per_borrower.applications,
    per_borrower.approvals,
    per_borrower.pending,
    per_borrower.open_loans,
    per_borrower.troubled_loans,
    -- amounts (万元)
    per_borrower.granted_wan,
    per_borrower.lent_wan,
    -- the newest application
    newest.application_no as latest_application_no,
    newest.product as latest_product,
    newest.decision as latest_decision,
    newest.loan_state as latest_loan_state,
    newest.applied_on as latest_applied_on,
    -- dates
    per_borrower.first_applied_on,
    per_borrower.last_reported_on,
    -- lineage (the newest application's row)
    newest.source_file,
    newest.source_row
from per_borrower
join newest using (lender_uscc, entity_key)
