-- 信用修复记录: every penalty of a market entity that a repair decision (credit_repair) ended
-- the publicity of, known on the evaluation date, with when publicity stopped. Natural
-- persons are left out: the record is read by USCC (the one-entity credit report, BI).

with

windows as (
    select * from {{ ref('int_penalties_windowed') }}
    where repaired_on is not null and not is_natural_person
),

penalties as (
    select * from {{ ref('stg_penalty__decisions') }}
)

select
    windows.entity_key::text as entity_key,
    windows.uscc::text as uscc,
    penalties.subject_name::text as subject_name,
    windows.decision_no::text as decision_no,
    penalties.authority::text as authority,
    windows.authority_uscc::text as authority_uscc,
    windows.decision_date::date as decision_date,
    windows.dishonesty_level::text as dishonesty_level,
    windows.minimum_end::date as minimum_end,
    windows.repaired_on::date as repaired_on,
    windows.repair_authority::text as repair_authority,
    windows.repair_method::text as repair_method,
    windows.publicity_end::date as publicity_end,
    windows.publicity_end_reason::text as publicity_end_reason,
    windows.repair_source_file::text as source_file,
    windows.repair_source_row::bigint as source_row,
    {{ evaluation_date() }} as evaluation_date
from windows
join penalties using (decision_no, authority_uscc)
