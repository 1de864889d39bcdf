{#
  Incremental strategy `contract_key`: dbt's delete+insert, keyed by the key of the feed's
  contract (model config `meta: {feed: ...}`). A model's `unique_key` config is fixed while
  dbt parses, before the contracts' sources are in the graph; a strategy runs when dbt
  executes, so the key is read from the contract here instead of being retyped.
#}
{% macro get_incremental_contract_key_sql(arg_dict) -%}
    {%- do arg_dict.update({'unique_key': contract_key(config.get('meta')['feed'])}) -%}
    {{ return(get_incremental_delete_insert_sql(arg_dict)) }}
{%- endmacro %}
