-- Other regions' red and black list entries, each judged for this district: applied when the
-- subject is registered here and the entry is in force on the evaluation date (listed, not
-- past 有效期至, not removed there: it leaves on 移出日期); an entry about a subject not
-- registered here is kept and counted, never applied.

with

entries as (
    select * from {{ ref('stg_list_exchange__entries') }}
),

register as (
    select uscc from {{ ref('stg_entity_register__entities') }}
),

dated as (
    select
        entries.*,
        least(entries.removed_on - 1, entries.valid_until) as end_date,
        register.uscc is not null as is_registered_here
    from entries
    left join register using (uscc)
)

-- every column of the entry, plus its verdicts
select
    dated.*,  -- noqa: AM04
    dated.listed_on <= {{ evaluation_date() }}
        and (dated.end_date is null or {{ evaluation_date() }} <= dated.end_date) as is_in_force,
    dated.is_registered_here
        and dated.listed_on <= {{ evaluation_date() }}
        and (dated.end_date is null or {{ evaluation_date() }} <= dated.end_date) as is_applied
from dated
