-- 信用户评定 per household (latest rating year), keyed by the keyed hash, shown masked.

select
    entity_key::text as entity_key,
    householder_name_masked::text as householder_name,
    id_number_masked::text as id_number_masked,
    town::text as town,
    village::text as village,
    rating_year::integer as rating_year,
    village_rating::text as village_rating,
    loan_overdue_count::integer as loan_overdue_count,
    rating::text as rating,
    is_credit_household::boolean as is_credit_household,
    source_file::text as source_file,
    source_row::bigint as source_row,
    {{ evaluation_date() }} as evaluation_date
from {{ published_rows(ref('int_households_rated')) }} as kept
