-- 信用乡镇: a town whose villages are 信用村 at least at the seed's share.

with

towns as (
    select
        town,
        count(*) as rated_villages,
        count(*) filter (where is_credit_village) as credit_villages,
        sum(rated_households) as rated_households,
        sum(credit_households) as credit_households
    from {{ ref('rural_credit_village') }}
    group by town
),

threshold as (
    select min_share from {{ ref('rural_credit_thresholds') }} where level = 'town'
)

select
    towns.town::text as town,
    towns.rated_villages::integer as rated_villages,
    towns.credit_villages::integer as credit_villages,
    round(towns.credit_villages::numeric / towns.rated_villages, 4)::numeric(5, 4) as credit_village_share,
    (towns.credit_villages >= threshold.min_share * towns.rated_villages)::boolean as is_credit_town,
    towns.rated_households::integer as rated_households,
    towns.credit_households::integer as credit_households,
    {{ evaluation_date() }} as evaluation_date
from towns
cross join threshold
