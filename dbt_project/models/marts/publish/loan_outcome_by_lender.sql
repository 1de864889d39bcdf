-- 信易贷 per financial institution (BI): the candidates delivered to it (audit log of every
-- outbox and API delivery up to the evaluation date; a delivery to the platform as a whole
-- counts for every institution), who of them then applied to it (conversion), and its
-- outcomes over all products (the sums of loan_outcome_by_product).

with

applications as (
    select * from {{ ref('stg_loan_outcome__applications') }}
),

products as (
    select * from {{ ref('loan_outcome_by_product') }}
),

deliveries as (
    select * from {{ source('audit', 'candidate_deliveries') }}
    where evaluation_date <= {{ evaluation_date() }}
),

-- each candidate's first delivery to an institution, or (lender_uscc null) to the platform
delivered_candidates as (
    select * from {{ source('audit', 'delivered_candidates') }}
    where first_delivered_on <= {{ evaluation_date() }}
),

names as (
    -- the name the institution gave most recently
    select distinct on (lender_uscc) lender_uscc, lender
    from applications
    order by lender_uscc, as_of desc, application_no desc
),

lenders as (
    select lender_uscc from products
    union
    select lender_uscc from deliveries where lender_uscc is not null
),

delivery_counts as (
    -- a delivery to the platform reached every institution on it
    select lenders.lender_uscc, count(*) as deliveries
    from lenders
    join deliveries on deliveries.lender_uscc = lenders.lender_uscc or deliveries.lender_uscc is null
    group by lenders.lender_uscc
),

candidate_counts as (
    -- the platform's candidates, and each institution's own that the platform did not carry
    select
        lenders.lender_uscc,
        (select count(*) from delivered_candidates where lender_uscc is null)
        + (select count(*) from delivered_candidates as own
           where own.lender_uscc = lenders.lender_uscc
               and not exists (select 1 from delivered_candidates as platform
                               where platform.lender_uscc is null and platform.entity_key = own.entity_key))
            as candidates_delivered
    from lenders
),

converted as (
    -- borrowers who applied to an institution on or after their first delivery to it
    select applications.lender_uscc, count(distinct applications.entity_key) as delivered_applicants
    from applications
    where exists (
        select 1 from delivered_candidates
        where delivered_candidates.entity_key = applications.entity_key
            and (delivered_candidates.lender_uscc = applications.lender_uscc
                 or delivered_candidates.lender_uscc is null)
            and delivered_candidates.first_delivered_on <= applications.applied_on
    )
    group by applications.lender_uscc
),

per_lender as (
    select
        lender_uscc,
        count(*) as products,
        sum(applications) as applications,
        sum(pending) as pending,
        sum(approvals) as approvals,
        sum(refusals) as refusals,
        sum(granted_wan) as granted_wan,
        sum(lent_wan) as lent_wan,
        sum(loans_lent) as loans_lent,
        sum(first_loans) as first_loans,
        sum(credit_loans) as credit_loans,
        sum(troubled_loans) as troubled_loans
    from products
    group by lender_uscc
),

joined as (
    select
        lenders.lender_uscc,
        names.lender,
        coalesce(per_lender.products, 0) as products,
        coalesce(delivery_counts.deliveries, 0) as deliveries,
        coalesce(candidate_counts.candidates_delivered, 0) as candidates_delivered,
        coalesce(converted.delivered_applicants, 0) as delivered_applicants,
        coalesce(per_lender.applications, 0) as applications,
        coalesce(per_lender.pending, 0) as pending,
        coalesce(per_lender.approvals, 0) as approvals,
        coalesce(per_lender.refusals, 0) as refusals,
        coalesce(per_lender.granted_wan, 0) as granted_wan,
        coalesce(per_lender.lent_wan, 0) as lent_wan,
        coalesce(per_lender.loans_lent, 0) as loans_lent,
        coalesce(per_lender.first_loans, 0) as first_loans,
        coalesce(per_lender.credit_loans, 0) as credit_loans,
        coalesce(per_lender.troubled_loans, 0) as troubled_loans
    from lenders
    left join names using (lender_uscc)
    left join per_lender using (lender_uscc)
    left join delivery_counts using (lender_uscc)
    left join candidate_counts using (lender_uscc)
    left join converted using (lender_uscc)
)

select
    lender_uscc::text as lender_uscc,
    lender::text as lender,
    products::integer as products,
    deliveries::integer as deliveries,
    candidates_delivered::integer as candidates_delivered,
    delivered_applicants::integer as delivered_applicants,
    round(delivered_applicants::numeric / nullif(candidates_delivered, 0), 4)::numeric(6, 4) as conversion_rate,
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
from joined
