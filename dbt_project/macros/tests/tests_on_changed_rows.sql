{#
  A daily (incremental) build tests the rows it wrote, not every row again (README
  "Incremental build"). dbt hands a generic test the model it reads through
  get_where_subquery; here, on a build whose scope is 'changed' (macros/incremental_by_entity.sql),
  a test of a model kept from build to build reads only the rows this build wrote:
  - a model kept per entity (strategy `changed_entities`; its unique_key matched to
    meta.changed_key of int_entities_changed, or of meta.changed_in when another model holds
    its changed keys: int_parties_touched for int_entities_resolved), or a candidate mart that is a row-for-row copy
    of one (meta: {copies_kept_rows_by: <column>}, the same column in int_entities_changed):
    the changed entities' rows;
  - int_parking_records_merged (strategy `contract_key`, feed parking): the records of the
    files merged since the last build (file_id above the state's watermark).
  Sound because those strategies write no other row (`changed_entities` inserts only changed
  entities' rows; `contract_key` only the new files' records), so every other row is one an
  earlier build wrote and tested: a build whose tests failed keeps no state (record_build_state),
  so the next one is a full one, and a full build tests every row. And only tests whose answer
  for a row depends on that row, or on rows of the same entity, are narrowed:
  - not_null, accepted_values, column_values: one row at a time;
  - relationships: one child row at a time, against the whole parent;
  - unique, unique_combination: only when an entity column (entity_key, uscc) is among the
    tested columns, so two rows sharing a value belong to one entity, changed or not;
  - unique_contract_key on the parking records: the unique index on the contract key (the
    model's post-hook) already forbids a duplicate; the test's null check is per row.
  Every other test (not_empty, singular tests) reads the whole table.
#}

{% macro get_where_subquery(relation) -%}
    {%- set predicates = [config.get('where', ''), changed_rows_predicate()] | select | list -%}
    {%- if predicates -%}
        {{ return('(select * from ' ~ relation ~ ' where (' ~ predicates | join(') and (') ~ ')) dbt_subquery') }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}

{# The predicate limiting the running test to the rows this build wrote, or '' for all rows. #}
{% macro changed_rows_predicate() -%}
    {%- if not execute or model.resource_type != 'test' or not model.test_metadata -%}
        {{ return('') }}
    {%- endif -%}
    {%- set tested = graph.nodes.get(model.attached_node) -%}
    {%- if tested is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set meta = tested.config.meta or {} -%}
    {%- set test_name = model.test_metadata.name -%}
    {%- set columns = model.test_metadata.kwargs.get('columns') or [model.column_name] -%}
    {%- set per_row = test_name in ('not_null', 'accepted_values', 'column_values', 'relationships') -%}
    {%- set per_entity = test_name in ('unique', 'unique_combination')
            and ('entity_key' in columns or 'uscc' in columns) -%}
    {%- if tested.config.incremental_strategy == 'changed_entities' and (per_row or per_entity) -%}
        {%- set column, changed_key = tested.config.unique_key, meta.get('changed_key') -%}
    {%- elif meta.get('copies_kept_rows_by') and (per_row or per_entity) -%}
        {%- set column = meta.get('copies_kept_rows_by') -%}
        {%- set changed_key = column -%}
    {%- elif tested.config.incremental_strategy == 'contract_key' and meta.get('feed') == 'parking'
            and (per_row or test_name == 'unique_contract_key') -%}
        {%- set column = none -%}
    {%- else -%}
        {{ return('') }}
    {%- endif -%}
    {%- set scope = build_scope() -%}
    {%- if scope.kind != 'changed' -%}
        {{ return('') }}
    {%- elif column is none -%}
        {{ return('file_id > ' ~ scope.parking_file_id) }}
    {%- endif -%}
    {{ return(changed_keys_predicate(column, changed_key, meta)) }}
{%- endmacro %}

{#
  In a singular test whose answer for a row depends on that row or its entity's rows only: on a
  build whose scope is 'changed', `column` (entity_key or uscc) among the changed entities';
  else true. Sound for the marts that copy rows kept per entity (entity_credit_profile,
  credit_score_explanation), as for the generic tests above: every other row is one an earlier
  build wrote and tested. At city scale the four such tests read 3.5 M profiles and 12 M
  explanation rows a day (41 s summed).
#}
{% macro changed_entities_only(column, key='entity_key') -%}
    {%- if execute and build_scope().kind == 'changed' -%}
        {{ changed_keys_predicate(column, key, {}) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
