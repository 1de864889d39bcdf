{#
  dropped_domain_classes: a subject whose supervision class in a domain fell `threshold`
  classes or more since the live publication. Classes are ranked like the district tiers
  (seed credit_tiers: A best, D worst). Routed by `domain` to the departments of that domain
  (risk_warnings.sql's `routed`). Only a drop the department's own grade brought (a new
  grade, or one that expired) counts here: a drop the public tier alone brought is already
  the tier kinds' warning, so each move gives one warning.
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
        fresh.source_feed::text as evidence_feed,
        fresh.source_file::text as evidence_file,
        fresh.source_row::bigint as evidence_row
    from {{ ref('domain_supervision') }} as fresh
    join {{ live_domains }} as live using (entity_key, domain)
    join (select tier, rank() over (order by min_score desc) as tier_rank from {{ ref('credit_tiers') }}) as new_ranks
        on new_ranks.tier = fresh.supervision_class
    join (select tier, rank() over (order by min_score desc) as tier_rank from {{ ref('credit_tiers') }}) as old_ranks
        on old_ranks.tier = live.supervision_class
    left join {{ ref('entity_credit_profile') }} as profile using (entity_key)
    where fresh.domain_grade is distinct from live.domain_grade
        {# only the rows the live publication does not have can differ from its rows #}
        and (fresh.entity_key, fresh.domain) in (
            select added.entity_key, added.domain
            from {{ published_rows_since_live(ref('domain_supervision')) }} as added)
        and new_ranks.tier_rank - old_ranks.tier_rank >= (
        select threshold from {{ ref('warning_kinds') }} where kind = 'dropped_domain_classes'
    )
    {%- endif -%}
{%- endmacro %}
