-- 双随机 sampling frames per domain (and its department) and supervision class: every active
-- (存续/在业) market entity in each domain it is rated or active in (domain_supervision's rows,
-- read from int_domain_supervision, which that mart copies: reading the copy made this model
-- wait for the copy and its tests, and it ran last in every build),
-- with the domain's inspection ratio for its class, its place in a reproducible random order
-- (seeded by the evaluation date and the domain) and whether it falls inside the sample
-- (ceil(ratio × frame size)). A subject rated nowhere is in its active domains' frames with
-- its public tier.
-- Every text it publishes is a column of the kept row it comes from (the class's name too), and
-- no row is read twice: the gate's personal-data scan relies on it to read only the rows of the
-- entities the build rewrote (expectations/gate_policy.yml, tests/unit/test_gate_policy.py).

with

frame as (
    select
        supervision.*,
        count(*) over (partition by supervision.domain, supervision.supervision_class) as frame_size,
        row_number() over (
            partition by supervision.domain, supervision.supervision_class
            -- as uuid: the same order as the hex text's, sorted bytewise whatever the collation
            order by md5(supervision.entity_key || supervision.domain || {{ evaluation_date() }}::text)::uuid
        ) as draw_order
    from {{ ref('int_domain_supervision') }} as supervision
    -- a class without a tier (seed credit_tiers) draws no frame
    where supervision.registration_status in ('存续', '在业') and supervision.class_name is not null
)

select
    domain::text as domain,
    department_code::text as department_code,
    department_name::text as department_name,
    supervision_class::text as supervision_class,
    class_name::text as class_name,
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
    public_tier::text as public_tier,
    domain_grade::text as domain_grade,
    {{ evaluation_date() }} as evaluation_date
from frame
