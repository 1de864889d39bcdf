-- 信易贷 outcomes per financial institution and product (BI): applications, decisions,
-- amounts granted and lent, and the 首贷 and 信用贷款 shares of the approvals, from the newest
-- state of each application known on the evaluation date.

with

applications as (
    select * from {{ ref('stg_loan_outcome__applications') }}
),

per_product as (
    select
        lender_uscc,
        -- the name the institution gave most recently
        (array_agg(lender order by as_of desc, application_no desc))[1] as lender,
        product,
        count(*) as applications,
        count(*) filter (where decision = '审批中') as pending,
        count(*) filter (where is_approved) as approvals,
        count(*) filter (where decision = '未通过') as refusals,
        coalesce(sum(granted_wan) filter (where is_approved), 0) as granted_wan,
        sum(lent_wan) as lent_wan,
        count(*) filter (where lent_wan > 0) as loans_lent,
        count(*) filter (where is_approved and is_first_loan) as first_loans,
        count(*) filter (where is_approved and is_credit_loan) as credit_loans,
        count(*) filter (where loan_state in ('逾期', '不良')) as troubled_loans
    from applications
    group by lender_uscc, product
)

select
    lender_uscc::text as lender_uscc,
    lender::text as lender,
    product::text as product,
    applications::integer as applications,
    pending::integer as pending,
    approvals::integer as approvals,
    refusals::integer as refusals,
    round(approvals::numeric / nullif(approvals + refusals, 0), 4)::numeric(6, 4) as approval_rate,
    granted_wan::numeric(16, 4) as granted_wan,
    lent_wan::numeric(16, 4) as lent_wan,
    loans_lent::integer as loans_lent,
    first_loans::integer as first_loans,
    round(first_loans::numeric / nullif(approvals, 0), 4)::numeric(6, 4) as first_loan_share,
    credit_loans::integer as credit_loans,
    round(credit_loans::numeric / nullif(approvals, 0), 4)::numeric(6, 4) as credit_loan_share,
    troubled_loans::integer as troubled_loans,
    {{ evaluation_date() }} as evaluation_date
from per_product
