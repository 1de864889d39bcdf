-- One row per market entity per scoring rule that applies to it, with the source record
-- that triggered it. Everything the evaluation says about an entity starts here.

with

entities as (
    select * from {{ ref('stg_entity_register__entities') }}
),

latest_tax as (
    select *,
        row_number() over (partition by uscc order by evaluation_year desc) as year_rank
    from {{ ref('stg_tax_credit__ratings') }}
),

tax as (
    select * from latest_tax where year_rank = 1
),

base as (
    select uscc, 'BASE' as rule_id,
        null::text as source_feed, null::text as source_file, null::bigint as source_row
    from entities
),

registration as (
    select uscc,
        case
            when registration_status in ('存续', '在业') then 'REG_ACTIVE'
            when registration_status = '吊销' then 'REG_REVOKED'
            else 'REG_CLOSED'
        end as rule_id,
        'entity_register' as source_feed, source_file, source_row
    from entities
),

registration_age as (
    select uscc, 'REG_AGE_5Y' as rule_id, 'entity_register' as source_feed, source_file, source_row
    from entities
    where established_on <= {{ evaluation_date() }} - interval '5 years'
),

tax_grade as (
    select tax.uscc, 'TAX_GRADE_' || tax.tax_grade as rule_id,
        'tax_credit' as source_feed, tax.source_file, tax.source_row
    from tax
    join entities using (uscc)
),

tax_arrears as (
    select tax.uscc, 'TAX_ARREARS' as rule_id, 'tax_credit' as source_feed, tax.source_file, tax.source_row
    from tax
    join entities using (uscc)
    where tax.tax_arrears_yuan > 0
),

tax_major_violator as (
    select tax.uscc, 'TAX_MAJOR_VIOLATOR' as rule_id, 'tax_credit' as source_feed, tax.source_file, tax.source_row
    from tax
    join entities using (uscc)
    where tax.is_major_tax_violator
),

hits as (
    select * from base
    union all select * from registration
    union all select * from registration_age
    union all select * from tax_grade
    union all select * from tax_arrears
    union all select * from tax_major_violator
),

scored_hits as (
    select hits.*, rules.dimension, rules.points, rules.forces_tier, rules.description
    from hits
    join {{ ref('scoring_rules') }} as rules using (rule_id)
),

bounds as (
    select
        max(points) filter (where rule_id = 'SCORE_FLOOR') as floor_score,
        max(points) filter (where rule_id = 'SCORE_CEILING') as ceiling_score
    from {{ ref('scoring_rules') }}
),

-- The score stays inside [floor, ceiling]; the adjustment is itself an explained row,
-- so explanations still add up to the published score.
bound_adjustments as (
    select
        totals.uscc,
        case when totals.total < bounds.floor_score then 'SCORE_FLOOR' else 'SCORE_CEILING' end as rule_id,
        null::text as source_feed, null::text as source_file, null::bigint as source_row,
        'bound' as dimension,
        (case when totals.total < bounds.floor_score then bounds.floor_score
              else bounds.ceiling_score end - totals.total)::integer as points,
        null::text as forces_tier,
        rules.description
    from (select uscc, sum(points) as total from scored_hits group by uscc) as totals
    cross join bounds
    join {{ ref('scoring_rules') }} as rules
        on rules.rule_id = case when totals.total < bounds.floor_score then 'SCORE_FLOOR' else 'SCORE_CEILING' end
    where totals.total < bounds.floor_score or totals.total > bounds.ceiling_score
),

all_hits as (
    select * from scored_hits
    union all
    select * from bound_adjustments
)

select
    md5('org:' || uscc) as entity_key,
    uscc,
    rule_id,
    dimension,
    points,
    forces_tier,
    description as reason,
    source_feed,
    source_file,
    source_row
from all_hits
