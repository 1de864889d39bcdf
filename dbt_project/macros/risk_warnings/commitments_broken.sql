{#
  commitment_broken: a commitment judged 失信 now that was not in the live publication
  (new, or 履约中 there). Routed to its 受理单位 (acceptor_uscc) and the departments of its
  domain; the evidence is the penalty behind it when a penalty broke it, else the
  commitment's own row. Natural persons are masked in commitment_status already.
#}
{% macro risk_warnings__commitments_broken() -%}
    {%- set live_status = live_relation('commitment_status') -%}
    {%- if live_status is none -%}
        {{ risk_warnings__none() }}
    {%- else -%}
    select
        'commitment_broken' as kind,
        status.entity_key,
        status.uscc,
        status.subject_name,
        status.commitment_no || '：' || status.broken_reason as detail,
        status.domain,
        status.acceptor_uscc as authority_uscc,
        case when status.penalty_source_file is not null then 'penalty' else 'commitment' end as evidence_feed,
        coalesce(status.penalty_source_file, status.source_file) as evidence_file,
        coalesce(status.penalty_source_row, status.source_row)::bigint as evidence_row
    from {{ ref('commitment_status') }} as status
    where status.fulfilment_state = '失信'
        and not exists (
            select 1 from {{ live_status }} as seen
            where seen.commitment_no = status.commitment_no and seen.fulfilment_state = '失信'
        )
    {%- endif -%}
{%- endmacro %}
