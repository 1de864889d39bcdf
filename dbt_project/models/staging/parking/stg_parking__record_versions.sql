-- Every version of every parking record (millions of rows a year): no dedup here, so the
-- incremental int_parking_records_merged can read only the newly loaded files (by _file_id,
-- which is indexed in raw) and keep the latest version per record itself.

with

source as (
    {{ with_id_digests('parking') }}
),

renamed as (
    select
        -- ids
        record_no,
        plate_no,
        berth_no,
        -- owner: a unit by its USCC, a person by the keyed hash (masked for display)
        owner_type,
        case when owner_type = '单位' then owner_id end as owner_uscc,
        case when owner_type = '个人' then owner_id_hash end as owner_id_hash,
        case when owner_type = '个人' then xy.mask(owner_id, 'id') else owner_id end as owner_display,
        -- payment
        payment_status,
        coalesce(reminder_count, 0) as reminder_count,
        amount_due_yuan,
        amount_paid_yuan,
        -- timestamps
        entered_at,
        left_at,
        last_paid_at,
        -- lineage
        _file_id as file_id,
        _as_of as as_of,
        _source_file as source_file,
        _source_row as source_row,
        _loaded_at as loaded_at
    from source
)

select * from renamed
