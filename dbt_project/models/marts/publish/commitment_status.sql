-- 信用承诺履约状态: every commitment known on the evaluation date, judged, with the reason
-- and the source rows behind the judgement. Natural persons masked (name, ID number).

select
    commitment_no::text as commitment_no,
    entity_key::text as entity_key,
    uscc::text as uscc,
    subject_name::text as subject_name,
    subject_category::text as subject_category,
    id_number_masked::text as id_number_masked,
    commitment_type::text as commitment_type,
    matter::text as matter,
    acceptor::text as acceptor,
    acceptor_uscc::text as acceptor_uscc,
    domain::text as domain,
    committed_on::date as committed_on,
    due_on::date as due_on,
    reported_state::text as reported_state,
    verified_on::date as verified_on,
    fulfilment_state::text as fulfilment_state,
    broken_reason_code::text as broken_reason_code,
    broken_reason::text as broken_reason,
    broken_on::date as broken_on,
    kept_on::date as kept_on,
    is_due_soon::boolean as is_due_soon,
    penalty_decision_no::text as penalty_decision_no,
    penalty_authority_uscc::text as penalty_authority_uscc,
    penalty_decision_date::date as penalty_decision_date,
    penalty_source_file::text as penalty_source_file,
    penalty_source_row::bigint as penalty_source_row,
    as_of::date as as_of,
    source_file::text as source_file,
    source_row::bigint as source_row,
    {{ evaluation_date() }} as evaluation_date,
    {{ objection_flag_columns() }}
from {{ ref('int_commitments_judged') }}
{{ objection_flag_join('commitment', 'commitment_no') }}
