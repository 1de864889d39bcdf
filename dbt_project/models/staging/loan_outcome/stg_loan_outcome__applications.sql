{{
    config(
        materialized='incremental',
        incremental_strategy='latest_version',
        on_schema_change='sync_all_columns',
        post_hook="{{ kept_version_upkeep() }}",
    )
}}
-- Loan outcomes (融资授信结果反馈): the newest state of each 申请编号 a lender reported on or
-- before the evaluation date. Borrowers are organisations and 个体工商户 (a USCC each); the
-- free-text refusal reason stays in raw.

with

source as (
    select * from {{ source('loan_outcome', 'loan_outcome') }}
    where {{ known_since_last_build() }}
),

renamed as (
    select
        -- ids
        application_no,
        {{ organisation_key('uscc') }} as entity_key,
        uscc,
        borrower_name,
        -- lender and product
        lender,
        lender_uscc,
        product,
        -- outcome
        decision,
        decision = '通过' as is_approved,
        loan_state,
        is_first_loan = '是' as is_first_loan,
        is_credit_loan = '是' as is_credit_loan,
        -- amounts (万元)
        granted_wan,
        coalesce(lent_wan, 0) as lent_wan,
        -- dates
        applied_on,
        lent_on,
        data_date,
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
