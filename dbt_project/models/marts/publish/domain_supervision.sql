-- 信用分级分类监管 per domain: one row per registered market entity and domain in which it is
-- rated or active: the rows of the incrementally kept int_domain_supervision (where the rules
-- are) this build publishes (macros/published_rows.sql), with the evaluation date.

select
    entity_key,
    uscc,
    entity_name,
    entity_type,
    registration_status,
    town,
    domain,
    department_code,
    department_name,
    is_rated,
    is_in_scope,
    department_scale,
    department_grade,
    domain_grade,
    rated_on,
    valid_until,
    public_tier,
    supervision_class,
    combine_rule,
    inspection_ratio,
    source_feed,
    source_file,
    source_row,
    {{ evaluation_date() }} as evaluation_date
from {{ published_rows(ref('int_domain_supervision')) }} as kept
