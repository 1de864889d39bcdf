{#- The flag of a published row an objection touches (models/intermediate/cases/
    int_case_record_flags.sql): `objection_flag_join` after the model's from-clause, then
    `objection_flag_columns()` among its columns. `record_kind` is a row of the seed
    case_record_kinds, `key` the expression of that table's key column. -#}
{% macro objection_flag_join(record_kind, key) %}
left join {{ ref('int_case_record_flags') }} as objection_flags
    on objection_flags.record_kind = '{{ record_kind }}' and objection_flags.record_key = {{ key }}
{% endmacro %}

{% macro objection_flag_columns() %}
    coalesce(objection_flags.under_objection, false)::boolean as under_objection,
    objection_flags.objection_case_id::bigint as objection_case_id
{% endmacro %}
