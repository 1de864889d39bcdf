{{
    config(
        materialized='incremental',
        incremental_strategy='contract_key',
        meta={'feed': 'parking', 'record_replaced': ['owner_type', 'owner_uscc', 'owner_id_hash']},
        on_schema_change='fail',
        indexes=[{'columns': ['file_id']}],
        post_hook=[
            "create unique index if not exists {{ this.identifier }}_contract_key
             on {{ this }} ({{ contract_key('parking') | join(', ') }})",
            "create index if not exists {{ this.identifier }}_owner_uscc on {{ this }} (owner_uscc)",
            "create index if not exists {{ this.identifier }}_owner_uscc_arrears on {{ this }} (owner_uscc)
             where payment_status = '欠费'",
            "create index if not exists {{ this.identifier }}_owner_id_hash on {{ this }} (owner_id_hash)",
            "create index if not exists {{ this.identifier }}_entered_at on {{ this }} (entered_at)",
        ],
    )
}}
-- The latest version of every parking record (the key of connectors/parking.yml; macro
-- incremental_contract_key merges by it), kept incrementally: a run reads only the
-- files loaded since the last one (raw is indexed on _file_id; a feed's file ids grow, as
-- its files load one at a time), so a daily delta costs in proportion to the delta. The
-- intermediate schema is not swapped at publication, so this state survives publications.
-- A change of columns fails the build: rebuild once with --full-refresh. The incremental
-- build reads one owner's records (int_parking_owners_aggregated, int_entity_rule_hits) and
-- the records of one day (int_entities_changed): indexed for both. The rule hits read a unit's
-- unpaid records only: a partial index finds them without visiting its other records (about
-- 20 a unit at city scale, read at random). The merge records the owners of the records it
-- replaces (meta record_replaced; int_parking_owners_superseded).

{% set key = contract_key('parking') | join(', ') %}
{% set columns = [
    'record_no', 'plate_no', 'berth_no',
    'owner_type', 'owner_uscc', 'owner_id_hash', 'owner_display',
    'payment_status', 'reminder_count', 'amount_due_yuan', 'amount_paid_yuan',
    'entered_at', 'left_at', 'last_paid_at',
    'file_id', 'as_of', 'source_file', 'source_row', 'loaded_at',
] %}

with

versions as (
    select {{ columns | join(', ') }}
    from {{ ref('stg_parking__record_versions') }}
    {% if is_incremental() %}
    where file_id > (select coalesce(max(file_id), 0) from {{ this }})
    {% endif %}
),

candidates as (
    select * from versions
    {% if is_incremental() %}
    -- a late file may carry an older version than the one kept: they compete
    union all
    select {{ columns | join(', ') }}
    from {{ this }}
    where ({{ key }}) in (select {{ key }} from versions)
    {% endif %}
),

-- distinct on rather than row_number() … = 1, which PostgreSQL estimates at 0.5 % of its
-- input (macros/latest_version.sql says why that matters)
latest as (
    select distinct on ({{ key }}) {{ columns | join(', ') }}
    from candidates
    order by {{ key }}, as_of desc, file_id desc, source_row desc
)

select {{ columns | join(', ') }}
from latest
