{#
  entered_black_list: a subject on the black list for a reason (reason_code) it was not
  listed for in the live publication, whatever the reason: the court's list and the other
  regions' lists raise it too once their rows reach publish.black_list. The evidence is the
  listing's source row; a penalty's authority routes it to its department.
#}
{% macro risk_warnings__black_list_entries() -%}
    {%- set live_black_list = live_relation('black_list') -%}
    {%- if live_black_list is none -%}
        {{ risk_warnings__none() }}
    {%- else -%}
    select
        'entered_black_list' as kind,
        listed.entity_key,
        listed.uscc,
        listed.entity_name as subject_name,
        listed.reason as detail,
        null::text as domain,
        penalties.authority_uscc::text as authority_uscc,
        listed.source_feed as evidence_feed,
        listed.source_file as evidence_file,
        listed.source_row::bigint as evidence_row
    from {{ ref('black_list') }} as listed
    left join {{ ref('int_penalties_windowed') }} as penalties
        on listed.source_feed = 'penalty' and penalties.source_file = listed.source_file
        and penalties.source_row = listed.source_row
    where not exists (
        select 1 from {{ live_black_list }} as seen
        where seen.entity_key = listed.entity_key and seen.reason_code = listed.reason_code
    )
    {%- endif -%}
{%- endmacro %}
