-- 双随机 sampling frame per tier: every active market entity, with its tier's inspection
-- ratio, its place in a reproducible random order (seeded by the evaluation date) and
-- whether it falls inside the tier's sample (ceil(ratio × frame size)).

with

frame as (
    select
        profile.*,
        count(*) over (partition by profile.tier) as frame_size,
        row_number() over (
            partition by profile.tier
            order by md5(profile.entity_key || {{ evaluation_date() }}::text)
        ) as draw_order
    from {{ ref('entity_credit_profile') }} as profile
    where profile.registration_status in ('存续', '在业')
)

select
    tier::text as tier,
    tier_name::text as tier_name,
    inspection_ratio::numeric(5, 4) as inspection_ratio,
    frame_size::integer as frame_size,
    ceil(inspection_ratio * frame_size)::integer as sample_size,
    draw_order::integer as draw_order,
    (draw_order <= ceil(inspection_ratio * frame_size))::boolean as is_selected,
    entity_key::text as entity_key,
    uscc::text as uscc,
    entity_name::text as entity_name,
    entity_type::text as entity_type,
    town::text as town,
    evaluation_date::date as evaluation_date
from frame
