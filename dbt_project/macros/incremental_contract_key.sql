{#
  Incremental strategy `contract_key`: dbt's delete+insert, keyed by the key of the feed's
  contract (model config `meta: {feed: ...}`). A model's `unique_key` config is fixed while
  dbt parses, before the contracts' sources are in the graph; a strategy runs when dbt
  executes, so the key is read from the contract here instead of being retyped.

  With `meta: {record_replaced: [columns]}`, the distinct values of those columns in the rows
  the merge replaces are recorded first, in intermediate.<model>__replaced marked with the
  run's invocation id (recorded_by_this_run): in the merge's own transaction, from the very
  rows it reads, so a file that commits while the build runs cannot be merged unrecorded.
#}
{% macro get_incremental_contract_key_sql(arg_dict) -%}
    {%- set keys = contract_key(config.get('meta')['feed']) -%}
    {%- set recorded = config.get('meta').get('record_replaced') -%}
    {%- if recorded -%}
        {%- set replaced_rows -%}
    select distinct {{ recorded | join(', ') }}
    from {{ arg_dict['target_relation'] }}
    where ({{ keys | join(', ') }}) in (select {{ keys | join(', ') }} from {{ arg_dict['temp_relation'] }})
        {%- endset %}
    {{ record_for_this_run(contract_key_replaced_relation(arg_dict['target_relation']), replaced_rows) }}
    {%- endif -%}
    {%- do arg_dict.update({'unique_key': keys}) %}
    {{ get_incremental_delete_insert_sql(arg_dict) }}
{%- endmacro %}

{% macro contract_key_replaced_relation(relation) -%}
    {{ return(intermediate_relation(relation.identifier ~ '__replaced')) }}
{%- endmacro %}
