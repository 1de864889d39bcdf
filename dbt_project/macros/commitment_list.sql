{#- One 践诺 list (`red` or `grey`) as published: the subjects int_commitment_subjects_listed
    puts on it, listed while the evaluation date lies between start and end date. The rules
    are there (policy: scoring_parameters, commitment_*). -#}
{% macro commitment_list(list_type) %}
select
    entity_key::text as entity_key,
    uscc::text as uscc,
    subject_name::text as entity_name,
    reason::text as reason,
    commitment_nos::text as commitment_nos,
    commitment_count::integer as commitment_count,
    start_date::date as start_date,
    end_date::date as end_date,
    'commitment'::text as source_feed,
    latest_source_file::text as source_file,
    latest_source_row::bigint as source_row,
    {{ evaluation_date() }} as evaluation_date,
    {{ objection_flag_columns() }}
from {{ ref('int_commitment_subjects_listed') }}
{{ objection_flag_join('commitment_' ~ list_type ~ '_list', 'uscc') }}
where list_type = '{{ list_type }}'
    and start_date <= {{ evaluation_date() }} and {{ evaluation_date() }} <= end_date
{% endmacro %}
