-- 践诺灰名单: see int_commitment_subjects_listed for the rules (policy: scoring_parameters,
-- commitment_*); listed while the evaluation date lies between start and end date.

select
    entity_key::text as entity_key,
    uscc::text as uscc,
    subject_name::text as entity_name,
    reason::text as reason,
    commitment_nos::text as commitment_nos,
    commitment_count::integer as commitment_count,
    start_date::date as start_date,
    end_date::date as end_date,
    'commitment'::text as source_feed,
    latest_source_file::text as source_file,
    latest_source_row::bigint as source_row,
    {{ evaluation_date() }} as evaluation_date
from {{ ref('int_commitment_subjects_listed') }}
where list_type = 'grey'
    and start_date <= {{ evaluation_date() }} and {{ evaluation_date() }} <= end_date
