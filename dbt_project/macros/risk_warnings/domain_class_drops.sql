{#
  dropped_domain_classes (issue 13, domains part; NOT WIRED on this branch, because
  publish.domain_supervision does not exist here): a subject whose supervision class in a
  domain fell `threshold` classes or more since the live publication. Classes are ranked
  like the district tiers (seed credit_tiers: A best, D worst). Routed by `domain` to the
  departments of that domain (risk_warnings.sql's `routed`).
  To wire it once domain_supervision is a model (columns entity_key, uscc, domain,
  supervision_class, ...):
    1. risk_warnings.sql: `-- depends_on: {{ ref('domain_supervision') }}` and
       `union all {{ risk_warnings__domain_class_drops() }}` in `raised`;
    2. seed warning_kinds: `dropped_domain_classes,监管领域分类下降两级及以上,true,2,credit_office,...`;
    3. for the kinds with no domain of their own (tier, black list), route also to every
       domain the subject is rated or active in: in risk_warnings.sql's `routed`, add
       `union select w.warning_key, d.department_code from warnings w join
       {{ ref('domain_supervision') }} s using (entity_key) join departments d
       on s.domain = any(d.domains) where w.domain is null`.
  Until then this macro is never called, so main's project parses without the model.
#}
{% macro risk_warnings__domain_class_drops() -%}
    {%- set live_domains = live_relation('domain_supervision') -%}
    {%- if live_domains is none -%}
        {{ risk_warnings__none() }}
    {%- else -%}
    select
        'dropped_domain_classes' as kind,
        fresh.entity_key,
        fresh.uscc,
        profile.entity_name as subject_name,
        fresh.domain || '：' || live.supervision_class || ' → ' || fresh.supervision_class as detail,
        fresh.domain,
        null::text as authority_uscc,
        null::text as evidence_feed,
        null::text as evidence_file,
        null::bigint as evidence_row
    from {{ ref('domain_supervision') }} as fresh
    join {{ live_domains }} as live using (entity_key, domain)
    join (select tier, rank() over (order by min_score desc) as tier_rank from {{ ref('credit_tiers') }}) as new_ranks
        on new_ranks.tier = fresh.supervision_class
    join (select tier, rank() over (order by min_score desc) as tier_rank from {{ ref('credit_tiers') }}) as old_ranks
        on old_ranks.tier = live.supervision_class
    left join {{ ref('entity_credit_profile') }} as profile using (entity_key)
    where new_ranks.tier_rank - old_ranks.tier_rank >= (
        select threshold from {{ ref('warning_kinds') }} where kind = 'dropped_domain_classes'
    )
    {%- endif -%}
{%- endmacro %}
