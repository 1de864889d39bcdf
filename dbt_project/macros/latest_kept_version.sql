{#
  A staging model kept as a table from one build to the next (README "Incremental build").
  A staging view sorts every version of its feed again for each model and test that reads it,
  every day: at city scale millions of rows, several times a build, spilling to disk. Kept,
  the latest version of each key is a table that a daily build updates from only the raw rows
  that can change it: those of files loaded since the last build, and those of files whose
  data date the date alone has now reached (a file may arrive before its day). Each competes
  with the kept version of its key, by the order `latest_version` uses.

  Sound because raw only grows (a file's rows commit together and are never changed or
  deleted after), a feed's files load one at a time (so a feed's file ids commit in order,
  xinyong/ingest/loader.py), and the newest version is the greatest by a total order (data
  date, file id, row): the kept version is the greatest of every row read before, so the
  greatest of it and the new rows is the greatest of all. When build_scope is 'all' (no state,
  --full-refresh, the date moved back, or a model, contract or policy changed) the table is
  rebuilt whole.

  In stg_<feed>__<entities>.sql (the feed is read from the model's name):
      config(materialized='incremental', incremental_strategy='latest_version',
             on_schema_change='sync_all_columns', post_hook="{{ kept_version_upkeep() }}")
      source:  the raw rows, where {{ known_since_last_build() }}
      renamed: per-row columns from source, with file_id, as_of and source_row
      latest:  {{ latest_kept_version('renamed') }}
  A kept model has no column that depends on the evaluation date (such a flag belongs to an
  intermediate model): evaluation_date() refuses to compile in one.
#}

{% macro kept_feed() -%}
    {{ return(staging_feed(model.name)) }}
{%- endmacro %}

{% macro keeps_latest_versions() -%}
    {{ return(model is defined and model.config is defined
              and model.config.get('incremental_strategy') == 'latest_version') }}
{%- endmacro %}

{# The build's scope when it updates the kept table, else none (the table is computed whole). #}
{% macro kept_update() -%}
    {%- set scope = build_scope() if is_incremental() else none -%}
    {{ return(scope if scope is not none and scope.kind == 'changed' else none) }}
{%- endmacro %}

{# The raw rows to read: known on the evaluation date and, on an update, new since the last build. #}
{% macro known_since_last_build() -%}
    _as_of <= date '{{ evaluation_date_text() }}'
    {%- set update = kept_update() -%}
    {%- if update %}
    and (_file_id > (select coalesce(max(file_id), 0) from {{ this }})
         or _as_of > date '{{ update.evaluation_date }}')
    {%- endif %}
{%- endmacro %}

{# The latest version of each key among `relation`'s rows and, on an update, the kept ones of their keys. #}
{% macro latest_kept_version(relation) -%}
    {%- set keys = contract_key(kept_feed()) | join(', ') -%}
    {%- if kept_update() -%}
        {#- by name: a column sync may have ordered the table's columns otherwise -#}
        {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='quoted') | join(', ') %}
    select distinct on ({{ keys }}) *
    from (
        select {{ columns }} from {{ relation }}
        union all
        select {{ columns }} from {{ this }}
        where ({{ keys }}) in (select {{ keys }} from {{ relation }})
    ) as candidates
    {%- else %}
    select distinct on ({{ keys }}) *
    from {{ relation }} as candidates
    {%- endif %}
    order by {{ keys }}, as_of desc, file_id desc, source_row desc
{%- endmacro %}

{#
  The rows an update of `relation` (a kept staging table) touched: every version it replaced
  and every version it wrote, in intermediate.<its name>__touched, marked with the run's
  invocation id (kept_version_touched_by_this_run). The models kept by party read them to
  recompute only the parties these rows name, old names included: a corrected penalty can
  move to another USCC (int_parties_touched).
#}
{% macro kept_version_touched_relation(relation) -%}
    {{ return(intermediate_relation(relation.identifier ~ '__touched')) }}
{%- endmacro %}

{#
  Incremental strategy `latest_version`: on an update, dbt's delete+insert by the contract's
  key (the model's rows are the new latest versions of the keys the new raw rows carry),
  the replaced and new versions recorded first; when everything is recomputed, the table's
  rows are replaced by the model's, and no touched rows are recorded (whatever reads them
  recomputes everything too).
#}
{% macro get_incremental_latest_version_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set touched = kept_version_touched_relation(target) -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') -%}
    {%- if build_scope().kind == 'all' -%}
    drop table if exists {{ touched }};
    truncate {{ target }};
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }};
    {%- else -%}
        {%- set keys = contract_key(kept_feed()) | join(', ') -%}
        {%- set touched_rows -%}
    select {{ columns }} from {{ target }}
    where ({{ keys }}) in (select {{ keys }} from {{ arg_dict['temp_relation'] }})
    union all
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
        {%- endset %}
    {{ record_for_this_run(touched, touched_rows) }}
        {%- do arg_dict.update({'unique_key': contract_key(kept_feed())}) %}
    {{ get_incremental_delete_insert_sql(arg_dict) }}
    {%- endif -%}
{%- endmacro %}

{#
  Post-hook: one row per key, enforced (and the update's lookups by key indexed), the index
  made again after a whole rebuild (the contract's key may have changed); statistics after a
  whole rebuild (a daily update changes few rows: autovacuum's threshold covers it).
#}
{% macro kept_version_upkeep() -%}
    {%- set index = this.identifier ~ '_contract_key' -%}
    {%- set whole = build_scope().kind == 'all' -%}
    {%- if whole -%}
    drop index if exists {{ this.schema }}.{{ index }};
    {%- endif %}
    create unique index if not exists {{ index }} on {{ this }} ({{ contract_key(kept_feed()) | join(', ') }});
    {%- if whole %}
    analyze {{ this }};
    {%- endif -%}
{%- endmacro %}

{#
  The rows this run's update of the kept staging model `model_name` touched, as a relation to
  select from; or, when this run recorded none (the table was created whole, or the touched
  rows are another run's), the whole kept table: every row counts as touched.
#}
{% macro kept_version_touched_rows(model_name) -%}
    {%- set kept = ref(model_name) -%}
    {%- set touched = kept_version_touched_relation(kept) -%}
    {{ return(touched if recorded_by_this_run(touched) else kept) }}
{%- endmacro %}

{# Statements that replace `relation` with the rows of `select_sql`, marked as this run's
   (read back by recorded_by_this_run). #}
{% macro record_for_this_run(relation, select_sql) -%}
    drop table if exists {{ relation }};
    create table {{ relation }} as
    {{ select_sql }};
    comment on table {{ relation }} is '{{ invocation_id }}';
{%- endmacro %}

{# Whether `relation` exists and was written by this run (the invocation id its table comment
   holds): a record of another run's update says nothing about this run's. #}
{% macro recorded_by_this_run(relation) -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set stamp = run_query(
            "select obj_description(to_regclass('" ~ relation ~ "'), 'pg_class')").columns[0].values()[0] -%}
    {{ return(stamp == invocation_id) }}
{%- endmacro %}
