{#
  Publication without copies (README "Incremental build"). A candidate mart that is a
  row-for-row copy of a model kept per entity is a view over the kept rows, not a table
  copied from them on every build: each such model has a store in `intermediate` (never
  swapped), `<mart>__rows`, holding every version of its rows a publication may still show,
  each valid for the builds [valid_from, valid_to). A build (version N, `build_version`):
  - closes (valid_to = N) the open rows of the changed entities that no longer stand, and adds
    (valid_from = N) the rows that are new: what the kept model's changed entities now have,
    compared row for row (rows equal in every column are kept as they are);
  - defines the candidate view over the rows valid at N, with N written into the view, so a
    view swapped into `publish` goes on showing exactly its build's rows whatever later builds
    add or close;
  - records N against the candidate schema's oid (`intermediate.build_versions`), which the
    schema keeps when it is renamed (publish, publish_prev, publish_held_<id>): a closed row is
    deleted once no schema that still exists was built at a version within its validity.
  So the daily cost of such a mart follows the changed entities, not the table, and the
  publication holds one copy of its rows plus the day's changes, not a second full copy.

  The store syncs in the view model's pre-hook, in the transaction that creates the view.
  Row filters (row-level security) need a table: a consumer declaring one on such a mart is
  refused by xinyong.publication.roles.
#}

{# on-run-start: this run's version, one more than any before (a sequence: never reused), and
   the candidate schema it builds, by identity (a schema keeps its oid when the swap renames
   it to publish, publish_prev, publish_held_<id>). The versions of schemas dropped since are
   forgotten. #}
{% macro start_build_version() -%}
    {#- only a command that builds views takes a version (dbt test and dbt seed build none) -#}
    {%- if execute and flags.WHICH in ('run', 'build') -%}
        {%- set relation = intermediate_relation('build_versions') -%}
        {%- set sequence = intermediate_relation('build_version_seq') -%}
        {%- set candidate = generate_schema_name('publish', none) | trim -%}
        create schema if not exists {{ relation.schema }};
        create sequence if not exists {{ sequence }};
        create table if not exists {{ relation }} (
            invocation_id text primary key,
            version bigint not null default nextval('{{ sequence }}'),
            schema_oid oid not null,
            started_at timestamptz not null default now()
        );
        create schema if not exists {{ candidate }};
        delete from {{ relation }} where schema_oid not in (select oid from pg_namespace);
        insert into {{ relation }} (invocation_id, schema_oid)
        select '{{ invocation_id }}', oid from pg_namespace where nspname = '{{ candidate }}'
        on conflict (invocation_id) do nothing;
    {%- endif -%}
{%- endmacro %}

{# This run's version. A command that runs no hooks (compile, docs generate) renders the
   newest there is (0 before the first build); a run or build without its own, whose
   on-run-start failed, stops: with an earlier build's version it would change what that
   build's views, the live publication's perhaps, show. #}
{% macro build_version() -%}
    {%- set relation = intermediate_relation('build_versions') -%}
    {%- set builds = flags.WHICH in ('run', 'build') -%}
    {#- asked of the server: dbt's relation cache, filled when the run started, may not know it -#}
    {%- if not execute or not run_query("select to_regclass('" ~ relation ~ "') is not null")[0][0] -%}
        {%- if execute and builds -%}
            {{ exceptions.raise_compiler_error("no build version: on-run-start (start_build_version) did not run") }}
        {%- endif -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set rows = run_query("select (select version from " ~ relation ~ " where invocation_id = '"
                             ~ invocation_id ~ "'), coalesce((select max(version) from " ~ relation ~ "), 0)") -%}
    {%- if rows[0][0] is not none -%}
        {{ return(rows[0][0]) }}
    {%- elif builds -%}
        {{ exceptions.raise_compiler_error("no build version for this run: on-run-start (start_build_version) failed") }}
    {%- endif -%}
    {{ return(rows[0][1]) }}
{%- endmacro %}

{# The store of a mart over kept rows: the running model's, or `mart`'s (a ref). #}
{% macro published_rows_store(mart=none) -%}
    {{ return(intermediate_relation((mart or this).identifier ~ '__rows')) }}
{%- endmacro %}

{# The FROM of such a mart, given the kept model (a ref): its rows as this build publishes them. #}
{% macro published_rows(kept) -%}
    {%- set version = build_version() -%}
    (select * from {{ published_rows_store() }}
     where valid_from <= {{ version }} and (valid_to is null or valid_to > {{ version }}))
{%- endmacro %}

{# The model kept per entity the running mart reads (its one ref). #}
{% macro _kept_node() -%}
    {%- set kept = [] -%}
    {%- for unique_id in model.depends_on.nodes -%}
        {%- set node = graph.nodes.get(unique_id) -%}
        {%- if node is not none and node.resource_type == 'model' -%}
            {%- do kept.append(node) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if kept | length != 1 or kept[0].config.incremental_strategy != 'changed_entities' -%}
        {{ exceptions.raise_compiler_error(model.name ~ ": published_rows reads exactly one model, kept per entity "
                                           ~ "(incremental_strategy changed_entities)") }}
    {%- endif -%}
    {{ return(kept[0]) }}
{%- endmacro %}

{# pre-hook of the view: bring the store up to this build (see the top of this file). #}
{% macro sync_published_rows() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set node = _kept_node() -%}
    {%- set kept = intermediate_relation(node.name) -%}
    {%- set store = published_rows_store() -%}
    {%- set version = build_version() -%}
    {%- set key = node.config.unique_key -%}
    {%- set meta = node.config.meta or {} -%}
    {%- set columns = adapter.get_columns_in_relation(kept) -%}
    {%- set names = [] -%}
    {%- for column in columns -%}
        {%- do names.append(column.name ~ ' ' ~ column.data_type) -%}
    {%- endfor -%}
    {%- set quoted = columns | map(attribute='quoted') | join(', ') -%}
    {%- set row_hash = whole_row_hash(quoted) -%}
    {%- set existing = adapter.get_relation(database=store.database, schema=store.schema,
                                            identifier=store.identifier) -%}
    {%- set store_names = [] -%}
    {%- if existing is not none -%}
        {%- for column in adapter.get_columns_in_relation(existing) -%}
            {%- if column.name not in ('valid_from', 'valid_to', 'row_hash') -%}
                {%- do store_names.append(column.name ~ ' ' ~ column.data_type) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set fresh = existing is none or store_names != names -%}
    {%- if build_scope().kind == 'changed' and not fresh -%}
        {%- set changed = changed_keys_predicate(key, meta['changed_key'], meta) -%}
    {%- else -%}
        {%- set changed = 'true' -%}
    {%- endif -%}

    {#- retired stores no view reads any more (asked first: a drop that fails on a dependent view
        would have locked it, and its readers, meanwhile) -#}
    do $$
    declare
        retired record;
    begin
        for retired in select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
                       where n.nspname = '{{ store.schema }}' and c.relkind = 'r'
                         and c.relname like '{{ store.identifier }}\_\_retired\_%'
                         and not exists (select 1 from pg_depend d
                                         where d.refobjid = c.oid and d.classid = 'pg_rewrite'::regclass)
        loop
            execute format('drop table %I.%I', '{{ store.schema }}', retired.relname);
        end loop;
    end $$;

    {% if fresh -%}
    {#- new, or the kept model's columns changed: a store of its own, every row new, indexed once
        written, under another name until the end: renaming the old one locks out the readers
        of the views that read it (they go on reading it, a view naming its tables by identity),
        so only for the last moments of this transaction -#}
    {%- set next = store.identifier ~ '__next' %}
    drop table if exists {{ store.schema }}.{{ next }};
    create table {{ store.schema }}.{{ next }} as
        select {{ quoted }}, {{ row_hash }} as row_hash, {{ version }}::bigint as valid_from,
            null::bigint as valid_to
        from {{ kept }};
    {#- the key for the daily comparison and for readers of one entity, the closed rows for the
        vacuum, and the mart's own `indexes` (the views' readers') -#}
    create index on {{ store.schema }}.{{ next }} ({{ key }});
    create index on {{ store.schema }}.{{ next }} (valid_to) where valid_to is not null;
    {%- for index in config.get('indexes') or [] %}
    create index on {{ store.schema }}.{{ next }} ({{ index['columns'] | join(', ') }});
    {%- endfor %}
    analyze {{ store.schema }}.{{ next }};
    {%- if existing is not none %}
    alter table {{ store }} rename to {{ store.identifier }}__retired_{{ version }};
    {%- endif %}
    alter table {{ store.schema }}.{{ next }} rename to {{ store.identifier }};
    {%- else %}
    {#- closed rows no schema that still exists shows -#}
    delete from {{ store }} s
    where s.valid_to is not null
      and not exists (
          select 1 from {{ intermediate_relation('build_versions') }} built
          join pg_namespace on pg_namespace.oid = built.schema_oid
          where built.version >= s.valid_from and built.version < s.valid_to);

    {#- the changed entities' rows, new and standing, compared by a hash of every column
        (macros/row_comparison.sql): rows equal in every column stay; for any other value, the
        standing rows are closed and the new ones added. The store is
        read once (its standing rows are closed by ctid), and so is the kept model in a daily
        build (its changed rows are kept whole until inserted). -#}
    {%- set narrowed = changed != 'true' %}
    create temp table {{ store.identifier }}__new on commit drop as
        select {% if narrowed %}{{ quoted }}{% else %}ctid as row_id{% endif %}, {{ row_hash }} as row_hash
        from {{ kept }} where {{ changed }};
    create temp table {{ store.identifier }}__standing on commit drop as
        select ctid as row_id, row_hash from {{ store }} where valid_to is null and {{ changed }};
    {{ create_differing_row_hashes(store.identifier) }}
    update {{ store }} set valid_to = {{ version }}
    where ctid = any(array(
        select row_id from {{ store.identifier }}__standing
        where row_hash in (select row_hash from {{ store.identifier }}__differing)));
    insert into {{ store }} ({{ quoted }}, row_hash, valid_from)
    select {{ quoted }}, row_hash, {{ version }}
    {#- a full build's new rows are the whole kept model: not copied into the temporary table, but
        fetched by address, the differing ones only, and only those hashed again (a pass over the
        city's 10.9 M explanation rows took 46 s) -#}
    {%- if narrowed %}
    from {{ store.identifier }}__new
    where row_hash in (select row_hash from {{ store.identifier }}__differing);
    {%- else %}
    from (select *, {{ row_hash }} as row_hash from {{ kept }}
          where ctid = any(array(
              select row_id from {{ store.identifier }}__new
              where row_hash in (select row_hash from {{ store.identifier }}__differing)))) as differing_rows;
    {%- endif %}
    {{ analyze_if_stale(store) }};
    {%- endif %}
{%- endmacro %}

{# The version the live publication (var live_schema) was built at, or none: no live schema,
   or one built before versions were recorded. #}
{% macro live_build_version() -%}
    {%- if not execute or var('live_schema', none) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set relation = intermediate_relation('build_versions') -%}
    {%- if not run_query("select to_regclass('" ~ relation ~ "') is not null")[0][0] -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(run_query("select max(version) from " ~ relation ~ " where schema_oid = to_regnamespace('"
                        ~ var('live_schema') ~ "')")[0][0]) }}
{%- endmacro %}

{# The FROM of the rows of `mart` (a ref to a mart over kept rows) that this build shows and
   the live publication does not: those its store added after the live schema's build (a
   store made anew since has every row new). Without a live version to go by, all its rows. #}
{% macro published_rows_since_live(mart) -%}
    {%- set since = live_build_version() -%}
    {%- set version = build_version() -%}
    {%- if since is none or since >= version -%}
        {{ return(mart) }}
    {%- endif -%}
    {{ return('(select * from ' ~ published_rows_store(mart)
              ~ ' where valid_from > ' ~ since ~ ' and valid_from <= ' ~ version
              ~ ' and (valid_to is null or valid_to > ' ~ version ~ '))') }}
{%- endmacro %}
