-- 红黑名单互认, what came in: per source region, agreement and list, the entries received and
-- what became of them here (applied; about a subject not registered here, kept and counted;
-- no longer in force).

select
    source_region::text as source_region,
    agreement_no::text as agreement_no,
    list_type::text as list_type,
    list_name::text as list_name,
    count(*)::integer as entries_received,
    count(*) filter (where is_applied)::integer as entries_applied,
    count(*) filter (where not is_registered_here)::integer as entries_not_registered_here,
    count(*) filter (where is_registered_here and not is_in_force)::integer as entries_not_in_force,
    {{ evaluation_date() }} as evaluation_date
from {{ ref('int_exchanged_list_entries') }}
group by source_region, agreement_no, list_type, list_name
