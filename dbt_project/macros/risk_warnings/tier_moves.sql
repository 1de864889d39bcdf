{#
  entered_tier_d and dropped_tier_classes: a market entity whose district tier fell since
  the live publication. Falling into the bottom tier raises entered_tier_d only; falling
  `threshold` classes or more and staying above it raises dropped_tier_classes. The
  evidence is the newest scoring record that pulled it down and was not in the live
  explanation (a record that caps the tier first, then the largest deduction); a penalty's
  authority routes the warning to its department.
#}
{% macro risk_warnings__tier_moves() -%}
    {%- set live_profile = live_relation('entity_credit_profile') -%}
    {%- set live_explanation = live_relation('credit_score_explanation') -%}
    {%- if live_profile is none or live_explanation is none -%}
        {{ risk_warnings__none() }}
    {%- else -%}
    select
        case when moves.new_rank = moves.bottom_rank then 'entered_tier_d' else 'dropped_tier_classes' end as kind,
        moves.entity_key,
        moves.uscc,
        case when moves.entity_type = '个体工商户' then xy.mask(moves.entity_name, 'name')
             else moves.entity_name end as subject_name,
        moves.old_tier || ' → ' || moves.new_tier as detail,
        null::text as domain,
        penalties.authority_uscc::text as authority_uscc,
        evidence.source_feed as evidence_feed,
        evidence.source_file as evidence_file,
        evidence.source_row::bigint as evidence_row
    from (
        select fresh.entity_key, fresh.uscc, fresh.entity_name, fresh.entity_type,
            live.tier as old_tier, fresh.tier as new_tier,
            new_ranks.tier_rank as new_rank, new_ranks.tier_rank - old_ranks.tier_rank as classes_dropped,
            max(new_ranks.tier_rank) over () as bottom_rank
        from {{ ref('entity_credit_profile') }} as fresh
        join {{ live_profile }} as live using (entity_key)
        join (select tier, rank() over (order by min_score desc) as tier_rank from {{ ref('credit_tiers') }}) as new_ranks
            on new_ranks.tier = fresh.tier
        join (select tier, rank() over (order by min_score desc) as tier_rank from {{ ref('credit_tiers') }}) as old_ranks
            on old_ranks.tier = live.tier
    ) as moves
    left join lateral (
        select hits.source_feed, hits.source_file, hits.source_row
        from {{ ref('int_entity_rule_hits') }} as hits
        join {{ ref('scoring_rules') }} as rules using (rule_id)
        -- by USCC too: the kept hits are indexed by it (by entity_key, every moved entity read all of them)
        where hits.uscc = moves.uscc and hits.entity_key = moves.entity_key
            and (hits.points < 0 or rules.forces_tier is not null)
            and not exists (
                select 1 from {{ live_explanation }} as seen
                where seen.entity_key = hits.entity_key and seen.rule_id = hits.rule_id
                    and seen.source_file is not distinct from hits.source_file
                    and seen.source_row is not distinct from hits.source_row
            )
        order by rules.forces_tier is null, rules.forces_tier desc, hits.points, hits.source_file, hits.source_row
        limit 1
    ) as evidence on true
    left join {{ ref('int_penalties_windowed') }} as penalties
        on evidence.source_feed = 'penalty' and penalties.source_file = evidence.source_file
        and penalties.source_row = evidence.source_row
    where moves.classes_dropped > 0
        and (moves.new_rank = moves.bottom_rank
             or moves.classes_dropped >= (select threshold from {{ ref('warning_kinds') }}
                                          where kind = 'dropped_tier_classes'))
    {%- endif -%}
{%- endmacro %}
