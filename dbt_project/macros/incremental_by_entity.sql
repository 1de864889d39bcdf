{#
  The incremental warehouse (README "Incremental build"). The per-entity models in the
  `intermediate` schema (never swapped) are kept from one build to the next and rewritten
  for the entities whose inputs changed (model int_entities_changed); the candidate marts
  copy them, or are views over the rows they publish (macros/published_rows.sql). The state of the last successful build is one row of `intermediate.build_state`,
  written by the on-run-end hook `record_build_state`:
  - evaluation_date: the day it was built for (parking records entered after it did not count);
  - parking_file_id: the newest parking file int_parking_records_merged held;
  - project_checksum: of every seed (policy) and model file, the contracts (the sources'
    meta) and the macros (var macros_checksum, from xinyong.publication.build): policy,
    scoring or a contract changed means every entity is recomputed, as it is with no state,
    --full-refresh, or an earlier date;
  - policy_checksum: of the seeds as loaded (var policy_checksum): equal to the next build's,
    that build does not load and test the seeds again (xinyong.publication.build.dbt_build_args).
#}

{% macro intermediate_relation(identifier) -%}
    {{ return(api.Relation.create(
        database=target.database, schema=generate_schema_name('intermediate', none) | trim,
        identifier=identifier)) }}
{%- endmacro %}

{% macro build_state_relation() -%}
    {{ return(intermediate_relation('build_state')) }}
{%- endmacro %}

{# Seeds and models as dbt read them from disk (file checksums), the contracts as the sources'
   meta and the macros (whose files dbt's graph does not show: the caller hashes them, var
   macros_checksum): any change of policy or of the SQL behind the state means the kept rows
   no longer say what a full build would. #}
{% macro project_checksum() -%}
    {%- set parts = ['macros=' ~ var('macros_checksum', 'unknown')] -%}
    {%- for node in graph.nodes.values() | sort(attribute='unique_id') -%}
        {%- if node.resource_type in ('seed', 'model') -%}
            {%- do parts.append(node.unique_id ~ '=' ~ node.checksum.checksum) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for source in graph.sources.values() | sort(attribute='unique_id') -%}
        {%- do parts.append(source.unique_id ~ '=' ~ tojson(source.config.meta, sort_keys=true)) -%}
    {%- endfor -%}
    {{ return(local_md5(parts | join(','))) }}
{%- endmacro %}

{#
  'all' (recompute every entity) or 'changed' (only int_entities_changed), plus the state the
  'changed' scope reads. Read from the state table, which changes only at the start of a run
  (the mark below) and at its end, so every model of a run sees the same scope. A state
  marked by another run is one that run never finished: it may have committed some kept
  tables and not others (a killed process runs no on-run-end), so it vouches for nothing.
#}
{% macro build_scope() -%}
    {%- set scope = {'kind': 'all', 'evaluation_date': none, 'parking_file_id': 0} -%}
    {%- if not execute or flags.FULL_REFRESH -%}
        {{ return(scope) }}
    {%- endif -%}
    {%- set relation = adapter.get_relation(
            database=target.database, schema=build_state_relation().schema, identifier='build_state') -%}
    {%- if relation is none -%}
        {{ return(scope) }}
    {%- endif -%}
    {#- the mark as json: a state written before the column existed has none -#}
    {%- set rows = run_query("select evaluation_date::text, parking_file_id, project_checksum, "
                             ~ "to_jsonb(s) ->> 'running_invocation' from " ~ relation ~ " as s") -%}
    {%- if rows | length == 1
            and rows[0][2] == project_checksum()
            and rows[0][0] <= evaluation_date_text()
            and rows[0][3] in (none, invocation_id) -%}
        {%- do scope.update({'kind': 'changed', 'evaluation_date': rows[0][0], 'parking_file_id': rows[0][1]}) -%}
    {%- endif -%}
    {{ return(scope) }}
{%- endmacro %}

{# `column` among the changed keys (`changed_key` of int_entities_changed, or of meta.changed_in
   when another model holds them) of a model kept per entity. #}
{% macro changed_keys_predicate(column, changed_key, meta) -%}
    {{ return(column ~ ' in (select ' ~ changed_key ~ ' from '
              ~ intermediate_relation(meta.get('changed_in', 'int_entities_changed'))
              ~ ' where ' ~ changed_key ~ ' is not null)') }}
{%- endmacro %}

{# In a per-entity incremental model: restrict to the changed entities, unless all are rebuilt. #}
{% macro only_changed_entities(column, key_column='uscc') -%}
    {%- if is_incremental() and build_scope().kind == 'changed' -%}
        {{ column }} in (select {{ key_column }} from {{ ref('int_entities_changed') }} where {{ key_column }} is not null)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#
  Incremental strategy `changed_entities`: delete the rows of every changed entity (not only
  of those that still have rows, as delete+insert would), then insert the entity's new rows;
  with scope 'all', empty the table first. Model config: unique_key = the entity column,
  meta: {changed_key: the column of int_entities_changed it matches (uscc or entity_key),
  changed_in: the model that holds the changed keys, when not int_entities_changed}.
  Only changed entities' rows are inserted, whatever the model selected: every other row stays
  the row an earlier build wrote and tested, which lets a daily build test only the changed
  entities' rows (macros/tests/tests_on_changed_rows.sql).
  In a daily build the changed entities' rows, standing and new, are compared by a hash of every
  column first (macros/row_comparison.sql, as macros/published_rows.sql compares a store's), and only the rows that differ
  are deleted and inserted: most entities a day touches come out as they were (a parking owner's
  resolved party, its supervision classes), and rewriting them was most of such a model's time
  at city scale (int_entities_resolved: 742,000 touched parties, delete 20 s + insert 17 s, every
  page and index leaf of the table dirtied). A model whose touched rows all change anyway sets
  meta `every_changed_row_differs`, and skips the comparison.
#}
{% macro get_incremental_changed_entities_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set key = arg_dict['unique_key'] -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') -%}
    {%- set changed_keys -%}
        (select {{ config.get('meta')['changed_key'] }}
         from {{ ref(config.get('meta').get('changed_in', 'int_entities_changed')) }})
    {%- endset -%}
    {%- if build_scope().kind == 'all' %}
    {#- truncate, not delete: millions of dead rows at city scale; nothing reads the kept
        tables but the build, and truncate is transactional -#}
    truncate {{ target }};
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }};
    {%- elif config.get('meta').get('every_changed_row_differs') %}
    delete from {{ target }}
    where {{ key }} in {{ changed_keys }};
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
    where {{ key }} in {{ changed_keys }};
    {%- else %}
    {#- (macros/row_comparison.sql) a column whose type differs between the two (none should)
        only makes its rows differ, and be rewritten -#}
    {%- set row_hash = whole_row_hash(columns) %}
    {%- set prefix = target.identifier %}
    create temp table {{ prefix }}__standing on commit drop as
        select ctid as row_id, {{ row_hash }} as row_hash from {{ target }}
        where {{ key }} in {{ changed_keys }};
    create temp table {{ prefix }}__new on commit drop as
        select ctid as row_id, {{ row_hash }} as row_hash from {{ arg_dict['temp_relation'] }}
        where {{ key }} in {{ changed_keys }};
    {{ create_differing_row_hashes(prefix) }}
    delete from {{ target }}
    where ctid = any(array(
        select row_id from {{ prefix }}__standing
        where row_hash in (select row_hash from {{ prefix }}__differing)));
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
    where ctid = any(array(
        select row_id from {{ prefix }}__new
        where row_hash in (select row_hash from {{ prefix }}__differing)));
    {%- endif %}
{%- endmacro %}

{#
  on-run-start: the state, if any, marked as this run's until its on-run-end rewrites or drops
  it; a mark already there (a run that never ended) stays, so this run recomputes everything.
#}
{% macro mark_build_running() -%}
    {%- if execute -%}
        {%- set relation = adapter.get_relation(
                database=target.database, schema=build_state_relation().schema, identifier='build_state') -%}
        {%- if relation is not none -%}
            {#- in no transaction (dbt ends any before on-run-start): committed before any model runs -#}
            alter table {{ relation }} add column if not exists running_invocation text;
            update {{ relation }} set running_invocation = '{{ invocation_id }}' where running_invocation is null;
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#
  on-run-start of a --full-refresh: drop the kept tables it will rebuild from raw, after the
  mark above (a run that dies after the drop leaves a marked state, so the next build
  recomputes everything, from raw where a table is missing). dbt would build each new table
  beside the old one and swap them; at city scale the old copies (9.9 GB of merged parking
  records alone) are the disk the rebuild lacks. Dropped with cascade, as dbt drops the old
  copy after its swap: a view over a kept table goes either way (the publication's views read
  the stores, macros/published_rows.sql, which are no model). The relation as it is found,
  a view perhaps (a model that was one before).
#}
{% macro drop_kept_tables_for_full_refresh() -%}
    {%- if execute and flags.FULL_REFRESH and flags.WHICH in ('run', 'build') -%}
        {%- for unique_id in selected_resources | sort -%}
            {%- set node = graph.nodes.get(unique_id) -%}
            {%- if node is not none and node.resource_type == 'model'
                    and node.config.materialized == 'incremental'
                    and node.config.full_refresh is not false -%}
                {%- set existing = adapter.get_relation(
                        database=node.database, schema=node.schema, identifier=node.alias) -%}
                {%- if existing is not none %}
                    {#- dbt's relation cache, filled before this hook, must not expect it -#}
                    {%- do adapter.cache_dropped(existing) %}
    drop {{ existing.type }} if exists {{ existing }} cascade;
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#
  on-run-end: a run that built every per-entity model, every kept staging model
  (macros/latest_kept_version.sql), the parking records' merge and the sets that say what they
  recompute records what it built from; a run in which one of them
  failed (or only some ran) drops the state, so the next build recomputes everything instead
  of trusting rows half a run rewrote, or a staging table updated for another date. So does a run in which any test
  failed: a daily build tests only the rows it wrote (macros/tests/tests_on_changed_rows.sql),
  so the rows a failed test found must be tested again, by a full build. A run that built
  none of them (a selection) leaves it as it is.
#}
{% macro record_build_state(results) -%}
    {%- if execute -%}
        {#- the models that name what the kept ones recompute: a run that kept rows without
            building them (a selection) would have recomputed an earlier run's set -#}
        {%- set changed_sets = ['int_entities_changed', 'int_parties_touched', 'int_households_touched',
                                'int_parking_owners_superseded'] -%}
        {%- set entity_models = [] -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type == 'model' and node.config.incremental_strategy in ('changed_entities', 'latest_version', 'contract_key') -%}
                {%- do entity_models.append(node.unique_id) -%}
            {%- elif node.resource_type == 'model'
                    and 'sync_published_rows' in (node.config.pre_hook | map(attribute='sql') | join(' ')) -%}
                {#- a mart over published rows (macros/published_rows.sql) keeps their store -#}
                {%- do entity_models.append(node.unique_id) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set built = [] -%}
        {%- set failed = [] -%}
        {%- for result in results -%}
            {%- if result.node.unique_id in entity_models or result.node.name in changed_sets -%}
                {%- do (built if result.status == 'success' else failed).append(result.node.unique_id) -%}
            {%- elif result.node.resource_type == 'test' and result.status in ('fail', 'error') -%}
                {%- do failed.append(result.node.unique_id) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set relation = build_state_relation() -%}
        {%- if failed or (built and built | length < entity_models | length + changed_sets | length) -%}
            drop table if exists {{ relation }};
        {%- elif built -%}
            drop table if exists {{ relation }};
            create table {{ relation }} as
            select {{ evaluation_date() }} as evaluation_date,
                (select coalesce(max(file_id), 0) from {{ intermediate_relation('int_parking_records_merged') }}) as parking_file_id,
                '{{ project_checksum() }}'::text as project_checksum,
                '{{ var("policy_checksum", "") }}'::text as policy_checksum,
                null::text as running_invocation;
        {%- elif adapter.get_relation(database=relation.database, schema=relation.schema,
                                      identifier=relation.identifier) is not none -%}
            {#- a run that built none of them: the state stands as it was -#}
            update {{ relation }} set running_invocation = null where running_invocation = '{{ invocation_id }}';
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#
  Post-hook of a model kept per entity: a unique index on its key, whoever created the table.
  dbt's `indexes` config is applied only when it creates the table, so a table that became
  incremental in place (an upgrade: the state's checksum changes, and the strategy rewrites
  every row of the existing table) would keep none, and every daily delete by key would scan
  it. Unnamed: on --full-refresh the replaced table, which holds the old index's name, is
  dropped only after the hooks.
#}
{% macro kept_unique_index(column) -%}
    do $$
    begin
        if not exists (
            select 1 from pg_index
            where indrelid = '{{ this }}'::regclass and indisunique and indnatts = 1
                and indkey[0] = (select attnum from pg_attribute
                                 where attrelid = '{{ this }}'::regclass and attname = '{{ column }}')
        ) then
            create unique index on {{ this }} ({{ column }});
        end if;
    end $$
{%- endmacro %}
