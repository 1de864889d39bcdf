-- 行政处罚信息公示 (信用中国 data items): penalties inside their publicity window only.
-- Natural persons appear masked (name, ID); no ID of a legal representative, no address.

with

windows as (
    select * from {{ ref('int_penalties_windowed') }}
    where is_public
),

penalties as (
    select * from {{ ref('stg_penalty__decisions') }}
)

select
    windows.entity_key::text as entity_key,
    penalties.subject_name::text as subject_name,
    penalties.subject_category::text as subject_category,
    penalties.uscc::text as uscc,
    penalties.legal_representative_masked::text as legal_representative,
    penalties.id_type::text as id_type,
    penalties.id_number_masked::text as id_number_masked,
    penalties.decision_no::text as decision_no,
    penalties.violation_type::text as violation_type,
    penalties.violation_facts::text as violation_facts,
    penalties.legal_basis::text as legal_basis,
    penalties.penalty_types::text as penalty_types,
    penalties.penalty_content::text as penalty_content,
    penalties.fine_wan::numeric(14, 4) as fine_wan,
    penalties.confiscation_wan::numeric(14, 4) as confiscation_wan,
    penalties.licence_name_no::text as licence_name_no,
    penalties.decision_date::date as decision_date,
    penalties.valid_until::date as valid_until,
    penalties.publicity_until::date as publicity_until,
    windows.dishonesty_level::text as dishonesty_level,
    penalties.authority::text as authority,
    penalties.authority_uscc::text as authority_uscc,
    penalties.source_unit::text as source_unit,
    penalties.source_unit_uscc::text as source_unit_uscc,
    penalties.remarks::text as remarks,
    windows.publicity_start::date as publicity_start,
    (windows.publicity_end - 1)::date as publicity_last_day,
    {{ evaluation_date() }} as evaluation_date,
    {{ objection_flag_columns() }}
from windows
join penalties using (decision_no, authority_uscc)
{{ objection_flag_join('penalty', 'windows.decision_no') }}
