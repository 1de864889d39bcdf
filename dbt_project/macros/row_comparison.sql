{#
  Rows compared whole, by a hash of every column: a kept model's changed rows against the rows
  it keeps (macros/incremental_by_entity.sql), a store's standing rows against the kept model's
  (macros/published_rows.sql). Equal rows stay as they are; only the others are rewritten.
#}

{# The hash of a row of `quoted_columns` (a comma-separated list of quoted column names). #}
{% macro whole_row_hash(quoted_columns) -%}
    {{ return('md5(row(' ~ quoted_columns ~ ')::text)::uuid') }}
{%- endmacro %}

{# `<prefix>__differing`: the row hashes counted differently in the temporary tables
   `<prefix>__new` and `<prefix>__standing` (each with a `row_hash` column). Counted per hash,
   so that repeated rows are a multiset. #}
{% macro create_differing_row_hashes(prefix) -%}
    create temp table {{ prefix }}__differing on commit drop as
        select row_hash
        from (select row_hash, count(*) as n from {{ prefix }}__new group by row_hash) new_rows
        full join (select row_hash, count(*) as n from {{ prefix }}__standing group by row_hash) standing
            using (row_hash)
        where new_rows.n is distinct from standing.n;
{%- endmacro %}
