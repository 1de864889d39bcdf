-- Each case as it stood on the evaluation date: its last transition effective on or before
-- that day (a past day rebuilds as it was). Cases opened after it are not known yet.

with

cases as (
    select * from {{ source('cases', 'cases') }}
),

events as (
    select * from {{ source('cases', 'case_events') }}
    where effective_on <= {{ evaluation_date() }}
),

latest_events as (
    select distinct on (case_id) case_id, to_state, effective_on
    from events
    order by case_id, effective_on desc, event_id desc
),

renamed as (
    select
        -- ids
        cases.case_id,
        cases.case_kind,
        cases.record_kind,
        cases.record_key,
        cases.entity_key,
        -- who decides
        cases.decided_by,
        cases.decided_by = 'credit_office' as decided_by_credit_office,
        -- state on the evaluation date
        latest_events.to_state as state,
        latest_events.to_state in ('received', 'forwarded') as is_open,
        latest_events.to_state in ('upheld', 'granted') as is_in_favour,
        case when latest_events.to_state in ('upheld', 'rejected', 'granted', 'refused')
             then latest_events.effective_on end as decided_on,
        -- dates
        cases.opened_on,
        cases.decide_by
    from cases
    join latest_events using (case_id)
)

select * from renamed
