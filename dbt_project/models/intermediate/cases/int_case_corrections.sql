-- Decisions in the subject's favour (an upheld objection, a granted repair) on records the
-- credit office owns: the corrections the warehouse applies on top of the departments' data
-- (raw is never edited). A record another authority owns changes only when its feed says so.

select
    case_id,
    case_kind,
    record_kind,
    record_key,
    entity_key,
    decided_on
from {{ ref('stg_cases__cases') }}
where is_in_favour and decided_by_credit_office
