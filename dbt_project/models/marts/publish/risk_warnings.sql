-- 风险预警: one row per warning about a subject that turned bad since the live publication
-- (var live_schema), with its evidence (source feed, file, row) and its recipients. The
-- kinds, their thresholds and who is always told are policy (seed warning_kinds); each
-- kind is one macro in macros/risk_warnings/. With no live publication nothing is raised:
-- the first publication is the baseline.
-- Recipients: the department whose USCC made the decision behind the evidence (a penalty's
-- 处罚机关, a commitment's 受理单位), the departments of the warning's domain, else the
-- department that sends the evidence's feed; and always_to. A kind with no domain of its
-- own (tier, black list) also goes to the departments of every domain the subject is rated
-- or active in (publish.domain_supervision).

-- The kinds' macros read these only when a live publication exists; declared for dbt's DAG.
-- depends_on: {{ ref('entity_credit_profile') }}
-- depends_on: {{ ref('black_list') }}
-- depends_on: {{ ref('commitment_status') }}
-- depends_on: {{ ref('int_entity_rule_hits') }}
-- depends_on: {{ ref('int_penalties_windowed') }}
-- depends_on: {{ ref('scoring_rules') }}
-- depends_on: {{ ref('credit_tiers') }}
-- depends_on: {{ ref('domain_supervision') }}

with

kinds as (
    select * from {{ ref('warning_kinds') }} where enabled
),

departments as (
    select department_code, uscc,
        string_to_array(coalesce(domains, ''), '|') as domains,
        string_to_array(coalesce(feeds, ''), '|') as feeds
    from {{ ref('departments') }}
),

raised as (
    {{ risk_warnings__tier_moves() }}
    union all
    {{ risk_warnings__black_list_entries() }}
    union all
    {{ risk_warnings__commitments_broken() }}
    union all
    {{ risk_warnings__domain_class_drops() }}
),

warnings as (
    select
        md5(concat_ws('|', raised.kind, raised.entity_key, raised.detail,
                      raised.evidence_file, raised.evidence_row)) as warning_key,
        raised.*,
        kinds.title,
        kinds.always_to
    from raised
    join kinds using (kind)
),

routed as (
    select warnings.warning_key, departments.department_code
    from warnings
    join departments
        on departments.uscc = warnings.authority_uscc
        or warnings.domain = any(departments.domains)
        or (warnings.evidence_feed = any(departments.feeds)
            and not exists (select 1 from departments as deciders where deciders.uscc = warnings.authority_uscc)
            and warnings.domain is null)
    union
    -- a warning with no domain of its own: the departments of every domain it is rated or active in
    select warnings.warning_key, departments.department_code
    from warnings
    join {{ ref('domain_supervision') }} as supervision using (entity_key)
    join departments on supervision.domain = any(departments.domains)
    where warnings.domain is null
    union
    select warning_key, btrim(code) from warnings
    cross join lateral unnest(string_to_array(warnings.always_to, '|')) as code
),

recipients as (
    select warning_key, string_agg(department_code, '|' order by department_code) as recipients
    from routed group by warning_key
)

select
    warnings.warning_key::text as warning_key,
    warnings.kind::text as kind,
    warnings.title::text as title,
    warnings.entity_key::text as entity_key,
    warnings.uscc::text as uscc,
    warnings.subject_name::text as subject_name,
    warnings.detail::text as detail,
    warnings.domain::text as domain,
    warnings.evidence_feed::text as evidence_feed,
    warnings.evidence_file::text as evidence_file,
    warnings.evidence_row::bigint as evidence_row,
    recipients.recipients::text as recipients,
    {{ live_publication_label() }}::text as compared_with,
    {{ evaluation_date() }} as evaluation_date
from warnings
join recipients using (warning_key)
