{{
    config(
        materialized='incremental',
        incremental_strategy='changed_entities',
        unique_key='entity_key',
        meta={'changed_key': 'entity_key', 'every_changed_row_differs': true},
        indexes=[{'columns': ['entity_key']}],
    )
}}
-- depends_on: {{ ref('int_entities_changed') }}
-- every_changed_row_differs: a touched owner has new records, so its counts change, and comparing
-- its rows before rewriting them (macros/incremental_by_entity.sql) would only cost time.
-- Payment behaviour per car owner (unit by USCC, person by keyed hash) and the operator's
-- per-owner payment score (智慧停车信用分), from the latest state of every record. An
-- objection upheld or a repair granted by the credit office on the owner's row (audit.cases)
-- settles the arrears of the records entered before its decision: they no longer count.
-- Incremental by owner (macros/incremental_by_entity.sql): a daily build reads the records of
-- the owners in int_entities_changed only (by the indexes on owner_uscc and owner_id_hash).

with

reported_records as (
    select *,
        -- the owner as the feed names it: the key is derived once per owner, after grouping,
        -- not per record (md5 and ten replace() calls: ~1 µs, 13 M records on a city day)
        case when owner_type = '单位' then owner_uscc else owner_id_hash end as owner_ident,
        -- arrears still unpaid although the operator sent enough reminders
        payment_status = '欠费'
            and reminder_count >= {{ scoring_parameter('parking_arrears_min_reminders') }} as is_reported_arrears_after_reminders
    from {{ ref('int_parking_records_merged') }}
    where entered_at < {{ evaluation_date() }} + 1
        {%- if is_incremental() and build_scope().kind == 'changed' %}
        and (owner_uscc in (select uscc from {{ ref('int_entities_changed') }})
            or owner_id_hash in (select id_number_hash from {{ ref('int_entities_changed') }}))
        {%- endif %}
),

-- a case names the owner by its key: back to the owner as the feed names it
corrections as (
    select
        resolved.party_kind = 'organisation' as is_unit,
        coalesce(resolved.uscc, resolved.id_number_hash) as owner_ident,
        max(corrections.decided_on) as corrected_on
    from {{ ref('int_case_corrections') }} as corrections
    join {{ ref('int_entities_resolved') }} as resolved on resolved.entity_key = corrections.record_key
    where corrections.record_kind = 'parking'
    group by resolved.party_kind, resolved.uscc, resolved.id_number_hash
),

records as (
    select
        reported_records.*,
        coalesce(reported_records.entered_at < corrections.corrected_on + 1, false) as is_settled_by_case
    from reported_records
    left join corrections
        on corrections.owner_ident = reported_records.owner_ident
        and corrections.is_unit = (reported_records.owner_type = '单位')
),

owners as (
    select
        owner_ident,
        owner_type,
        max(owner_uscc) as owner_uscc,
        max(owner_id_hash) as owner_id_hash,
        max(owner_display) as owner_display,
        count(*) as record_count,
        count(*) filter (where payment_status = '已缴') as on_time_count,
        count(*) filter (where payment_status = '催缴后补缴') as paid_after_reminder_count,
        count(*) filter (where is_reported_arrears_after_reminders and not is_settled_by_case)
            as arrears_after_reminder_count,
        coalesce(sum(amount_due_yuan - amount_paid_yuan) filter (where payment_status = '欠费' and not is_settled_by_case), 0)
            as arrears_amount_yuan,
        -- the newest record stands for the owner where a rule speaks of all of them
        (array_agg(source_file order by entered_at desc, record_no desc))[1] as latest_source_file,
        (array_agg(source_row order by entered_at desc, record_no desc))[1] as latest_source_row
    from records
    group by owner_ident, owner_type
),

keyed as (
    select
        case when owner_type = '单位' then {{ organisation_key('owner_ident') }}
             else {{ person_key('owner_ident') }} end as entity_key,
        owners.*
    from owners
)

select
    entity_key,
    owner_type,
    owner_uscc,
    owner_id_hash,
    owner_display,
    record_count,
    on_time_count,
    paid_after_reminder_count,
    arrears_after_reminder_count,
    arrears_amount_yuan,
    latest_source_file,
    latest_source_row,
    greatest(0,
        {{ scoring_parameter('parking_score_base') }}
        + arrears_after_reminder_count * {{ scoring_parameter('parking_score_arrears_points') }}
        + paid_after_reminder_count * {{ scoring_parameter('parking_score_late_points') }}
    )::integer as parking_score
from keyed
where {{ only_changed_entities('entity_key', 'entity_key') }}
