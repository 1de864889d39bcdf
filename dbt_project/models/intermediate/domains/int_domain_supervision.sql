{{
    config(
        materialized='incremental',
        incremental_strategy='changed_entities',
        unique_key='uscc',
        meta={'changed_key': 'uscc'},
        indexes=[{'columns': ['uscc']}],
    )
}}
-- depends_on: {{ ref('int_entities_changed') }}
-- 信用分级分类监管 per domain: one row per registered market entity and domain in which it is
-- rated (a current rating) or active (seed domain_scope by 主体类型 / 行业门类). The domain's
-- combine rule (seed domain_supervision_policy, matrix supervision_class_matrix) turns the
-- department's class and the public tier into the supervision class; the class gives the
-- domain's inspection ratio (seed domain_inspection_ratios) and its name (seed credit_tiers,
-- for inspection_sampling: every text it publishes is then a kept row's, which is what lets the
-- gate's personal-data scan read it in proportion to the day's changes). Unrated (or an unmapped grade):
-- the matrix row with no domain class, i.e. the public tier.
-- The content of the published domain_supervision, kept incrementally by entity
-- (macros/incremental_by_entity.sql; an entity's current domain ratings are part of its
-- input fingerprint); the mart copies it and adds the evaluation date.

with

profiles as (
    select profile.*, resolved.industry_section, resolved.register_source_file, resolved.register_source_row
    from {{ ref('int_entity_credit_profile') }} as profile
    join {{ ref('int_entities_resolved') }} as resolved using (entity_key)
    where {{ only_changed_entities('profile.uscc') }}
),

ratings as (
    select * from {{ ref('int_domain_ratings_current') }}
),

active as (
    select distinct profiles.entity_key, scope.domain
    from profiles
    join {{ ref('domain_scope') }} as scope
        on (scope.entity_type is null or scope.entity_type = profiles.entity_type)
        and (scope.industry_section is null or scope.industry_section = profiles.industry_section)
),

subject_domains as (
    select entity_key, domain from active
    union
    select ratings.entity_key, ratings.domain from ratings join profiles using (entity_key)
),

domain_departments as (
    select trim(domain) as domain, department_code, name as department_name
    from {{ ref('departments') }}, unnest(string_to_array(domains, '|')) as domain
)

select
    profiles.entity_key::text as entity_key,
    profiles.uscc::text as uscc,
    profiles.entity_name::text as entity_name,
    profiles.entity_type::text as entity_type,
    profiles.registration_status::text as registration_status,
    profiles.town::text as town,
    subject_domains.domain::text as domain,
    domain_departments.department_code::text as department_code,
    domain_departments.department_name::text as department_name,
    (ratings.entity_key is not null)::boolean as is_rated,
    (active.entity_key is not null)::boolean as is_in_scope,
    ratings.scale::text as department_scale,
    ratings.grade::text as department_grade,
    ratings.domain_class::text as domain_grade,
    ratings.rated_on::date as rated_on,
    ratings.valid_until::date as valid_until,
    profiles.tier::text as public_tier,
    matrix.supervision_class::text as supervision_class,
    tiers.tier_name::text as class_name,
    policy.combine_rule::text as combine_rule,
    ratios.inspection_ratio::numeric(5, 4) as inspection_ratio,
    (case when ratings.entity_key is not null then 'domain_rating' else 'entity_register' end)::text
        as source_feed,
    coalesce(ratings.source_file, profiles.register_source_file)::text as source_file,
    coalesce(ratings.source_row, profiles.register_source_row)::bigint as source_row
from subject_domains
join profiles using (entity_key)
join {{ ref('domain_supervision_policy') }} as policy on policy.domain = subject_domains.domain
left join ratings on ratings.entity_key = subject_domains.entity_key and ratings.domain = subject_domains.domain
left join active on active.entity_key = subject_domains.entity_key and active.domain = subject_domains.domain
left join domain_departments on domain_departments.domain = subject_domains.domain
join {{ ref('supervision_class_matrix') }} as matrix
    on matrix.combine_rule = policy.combine_rule
    and matrix.domain_class is not distinct from ratings.domain_class
    and matrix.public_tier = profiles.tier
join {{ ref('domain_inspection_ratios') }} as ratios
    on ratios.domain = subject_domains.domain and ratios.supervision_class = matrix.supervision_class
left join {{ ref('credit_tiers') }} as tiers on tiers.tier = matrix.supervision_class
