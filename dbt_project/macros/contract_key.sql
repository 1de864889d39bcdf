{#
  What a feed's contract (connectors/<feed>.yml) says, read from the meta of its generated
  source (models/staging/_contracts__sources.yml, written by xinyong/publication/dbt_sources.py).
  The graph is there only when dbt executes; while parsing these return nothing, which
  parsing does not need.
#}
{% macro contract_meta(feed, field) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set node = graph.sources.get('source.' ~ project_name ~ '.' ~ feed ~ '.' ~ feed) -%}
    {%- if node is none -%}
        {{ exceptions.raise_compiler_error(
            "no contract source for feed '" ~ feed ~ "': is there a connectors/" ~ feed ~ ".yml? "
            ~ "Before a bare dbt command run `python -m xinyong.publication.dbt_sources`.") }}
    {%- endif -%}
    {{ return(node.config.meta[field]) }}
{%- endmacro %}

{# The contract's key as staging sees it: a personal ID column by its keyed hash (`<column>_hash`). #}
{% macro contract_key(feed) -%}
    {{ return(contract_meta(feed, 'staging_key')) }}
{%- endmacro %}

{# The feed's personal ID columns: staging gets their keyed hash from with_id_digests. #}
{% macro contract_personal_ids(feed) -%}
    {{ return(contract_meta(feed, 'personal_id_columns')) }}
{%- endmacro %}

{# The feed a staging model `stg_<feed>__<entities>` stages, from its name. #}
{% macro staging_feed(model_name) -%}
    {{ return(model_name.split('__')[0].replace('stg_', '', 1)) }}
{%- endmacro %}
