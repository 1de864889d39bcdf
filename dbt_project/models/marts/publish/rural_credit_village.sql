-- 信用村: a village whose rated households are credit households at least at the seed's share.

with

villages as (
    select
        town,
        village,
        count(*) as rated_households,
        count(*) filter (where is_credit_household) as credit_households,
        count(*) filter (where rating = 'AAA') as aaa_households,
        count(*) filter (where rating = 'AA') as aa_households,
        count(*) filter (where rating = 'A') as a_households,
        count(*) filter (where rating = '未评级') as not_rated_households
    from {{ ref('int_households_rated') }}
    group by town, village
),

threshold as (
    select min_share from {{ ref('rural_credit_thresholds') }} where level = 'village'
)

select
    villages.town::text as town,
    villages.village::text as village,
    villages.rated_households::integer as rated_households,
    villages.credit_households::integer as credit_households,
    villages.aaa_households::integer as aaa_households,
    villages.aa_households::integer as aa_households,
    villages.a_households::integer as a_households,
    villages.not_rated_households::integer as not_rated_households,
    round(villages.credit_households::numeric / villages.rated_households, 4)::numeric(5, 4) as credit_household_share,
    (villages.credit_households >= threshold.min_share * villages.rated_households)::boolean as is_credit_village,
    {{ evaluation_date() }} as evaluation_date
from villages
cross join threshold
