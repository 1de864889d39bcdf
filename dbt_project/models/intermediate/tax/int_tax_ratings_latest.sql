-- Each entity's tax rating of its latest evaluation year (the year's latest version, from
-- staging): the one tax fact scoring, the profile, the black list and the loan candidates
-- read.

with

-- distinct on, not row_number() … = 1 (estimated at 0.5 % of the rows: macros/latest_version.sql)
latest as (
    select distinct on (uscc) *
    from {{ ref('stg_tax_credit__ratings') }}
    order by uscc, evaluation_year desc
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
from latest
