-- Each entity's tax rating of its latest evaluation year (the year's latest version, from
-- staging): the one tax fact scoring, the profile, the black list and the loan candidates
-- read.

with

ranked as (
    select *,
        row_number() over (partition by uscc order by evaluation_year desc) as year_rank
    from {{ ref('stg_tax_credit__ratings') }}
)

select
    {{ organisation_key('uscc') }} as entity_key,
    uscc,
    evaluation_year,
    taxpayer_name,
    tax_grade,
    tax_score,
    is_major_tax_violator,
    tax_arrears_yuan,
    data_date,
    as_of,
    source_file,
    source_row
from ranked
where year_rank = 1
