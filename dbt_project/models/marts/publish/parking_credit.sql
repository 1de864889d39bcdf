-- 智慧停车信用分 per car owner: persons keyed by an entity key derived from the keyed hash and
-- shown masked, units by USCC.

select
    entity_key::text as entity_key,
    owner_type::text as owner_type,
    owner_display::text as owner_display,
    record_count::integer as record_count,
    on_time_count::integer as on_time_count,
    paid_after_reminder_count::integer as paid_after_reminder_count,
    arrears_after_reminder_count::integer as arrears_after_reminder_count,
    arrears_amount_yuan::numeric(14, 2) as arrears_amount_yuan,
    parking_score::integer as parking_score,
    {{ evaluation_date() }} as evaluation_date,
    {{ objection_flag_columns() }}
from {{ ref('int_parking_owners_aggregated') }}
{{ objection_flag_join('parking', 'entity_key') }}
