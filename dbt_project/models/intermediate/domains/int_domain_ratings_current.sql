-- Each subject's current rating per domain: the newest rating (评价日期) on or before the
-- evaluation date, unless its 有效期至 has passed (an expired rating stops counting; without
-- 有效期至 it stands until the next one). The department's grade maps to a class through
-- the seed domain_grade_classes; an unmapped scale or grade keeps its row with a null class
-- and is_grade_mapped = false (the approvable gate domain_rating_scales holds publication).

with

-- distinct on, not row_number() … = 1 (estimated at 0.5 % of the rows: macros/latest_version.sql)
ranked as (
    select distinct on (ratings.uscc, ratings.domain) ratings.*
    from {{ ref('stg_domain_rating__ratings') }} as ratings
    where ratings.rated_on <= {{ evaluation_date() }}
    order by ratings.uscc, ratings.domain, ratings.rated_on desc, ratings.as_of desc,
        ratings.source_file desc, ratings.source_row desc
)

select
    ranked.entity_key,
    ranked.uscc,
    ranked.subject_name,
    ranked.domain,
    ranked.scale,
    ranked.grade,
    classes.supervision_class as domain_class,
    classes.supervision_class is not null as is_grade_mapped,
    ranked.rater,
    ranked.rater_uscc,
    ranked.rated_on,
    ranked.valid_until,
    ranked.source_file,
    ranked.source_row
from ranked
left join {{ ref('domain_grade_classes') }} as classes
    on classes.scale = ranked.scale and classes.grade = ranked.grade
where (ranked.valid_until is null or ranked.valid_until >= {{ evaluation_date() }})
