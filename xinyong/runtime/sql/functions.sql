-- Validation and masking functions used by the ingest and by dbt models.
-- Check characters are computed in SQL so that a whole file is validated in one
-- set-based statement inside PostgreSQL. Generated expressions are unrolled on purpose:
-- a single SQL expression is inlined by the planner, a loop would not be.
create schema if not exists xy;

-- Trim ASCII and full-width white space; empty means no value.
create or replace function xy.clean(t text) returns text
language sql immutable parallel safe as $$
  select nullif(btrim(t, E' \t\r\n\u3000\u00a0'), '')
$$;

-- Codes, dates and amounts: full-width ASCII forms (Ａ, １, ．, ，) folded to half width.
-- Text without full-width forms (the usual case) skips translate(), which scans its whole
-- map for every character.
create or replace function xy.fold(t text) returns text
language sql immutable parallel safe as $$
  select case when octet_length(t) = char_length(t) then nullif(btrim(t, E' \t\r\n'), '')
    when t !~ '[\uFF01-\uFF5E\u3000]' then xy.clean(t)
    else translate(xy.clean(t), '！＂＃＄％＆＇（）＊＋，－．／０１２３４５６７８９：；＜＝＞？＠ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ［＼］＾＿｀ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ｛｜｝～　', '!"#$%&''()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\]^_`abcdefghijklmnopqrstuvwxyz{|}~ ') end
$$;

-- ISO 7064 MOD 31-3 over GB 32100-2015's alphabet; letter-led codes are valid.
create or replace function xy.uscc_ok(c text) returns boolean
language sql immutable parallel safe as $$
  select case when c ~ '^[0-9A-HJ-NPQRTUW-Y]{18}$' then
    substr('0123456789ABCDEFGHJKLMNPQRTUWXY', (31 - ((strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(c, 1, 1)) - 1) * 1 + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(c, 2, 1)) - 1) * 3 + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(c, 3, 1)) - 1) * 9 + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(c, 4, 1)) - 1) * 27 + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(c, 5, 1)) - 1) * 19 + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(c, 6, 1)) - 1) * 26 + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(c, 7, 1)) - 1) * 16 + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(c, 8, 1)) - 1) * 17 + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(c, 9, 1)) - 1) * 20 + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(c, 10, 1)) - 1) * 29 + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(c, 11, 1)) - 1) * 25 + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(c, 12, 1)) - 1) * 13 + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(c, 13, 1)) - 1) * 8 + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(c, 14, 1)) - 1) * 24 + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(c, 15, 1)) - 1) * 10 + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(c, 16, 1)) - 1) * 30 + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(c, 17, 1)) - 1) * 28) % 31) % 31 + 1, 1) = substr(c, 18, 1)
  else false end
$$;

create or replace function xy.ymd_ok(y int, m int, d int) returns boolean
language sql immutable parallel safe as $$
  -- days of the month in integer arithmetic: date arithmetic here cost more than the checksum
  select case when y between 1800 and 2200 and m between 1 and 12 then
    d between 1 and case when m in (4, 6, 9, 11) then 30 when m <> 2 then 31
                         when y % 4 = 0 and (y % 100 <> 0 or y % 400 = 0) then 29 else 28 end
  else false end
$$;

create or replace function xy.make_date_or_null(y text, m text, d text) returns date
language sql immutable parallel safe as $$
  select case when xy.ymd_ok(y::int, m::int, d::int) then make_date(y::int, m::int, d::int) end
$$;

-- GB 11643-1999: MOD 11-2 check character and a real birth date, not in the future.
-- No rule ties the region code to the birth year (codes are reassigned over time).
create or replace function xy.ric_ok(c text) returns boolean
language sql stable parallel safe as $$
  select case when c ~ '^[0-9]{17}[0-9X]$' then
    substr('10X98765432', (substr(c, 1, 1)::int * 7 + substr(c, 2, 1)::int * 9 + substr(c, 3, 1)::int * 10 + substr(c, 4, 1)::int * 5 + substr(c, 5, 1)::int * 8 + substr(c, 6, 1)::int * 4 + substr(c, 7, 1)::int * 2 + substr(c, 8, 1)::int * 1 + substr(c, 9, 1)::int * 6 + substr(c, 10, 1)::int * 3 + substr(c, 11, 1)::int * 7 + substr(c, 12, 1)::int * 9 + substr(c, 13, 1)::int * 10 + substr(c, 14, 1)::int * 5 + substr(c, 15, 1)::int * 8 + substr(c, 16, 1)::int * 4 + substr(c, 17, 1)::int * 2) % 11 + 1, 1) = substr(c, 18, 1)
    and coalesce(xy.make_date_or_null(substr(c, 7, 4), substr(c, 11, 2), substr(c, 13, 2)) <= current_date, false)
  else false end
$$;

-- The four date forms of the contract: YYYY-MM-DD, YYYY/M/D, YYYYMMDD, YYYY年M月D日.
create or replace function xy.to_date_any(t text) returns date
language sql immutable parallel safe as $$
  select xy.make_date_or_null(m[1], coalesce(m[2], m[4], m[6], m[8]), coalesce(m[3], m[5], m[7], m[9]))
  from regexp_match(t, '^(\d{4})(?:-(\d{1,2})-(\d{1,2})|/(\d{1,2})/(\d{1,2})|(\d{2})(\d{2})|年(\d{1,2})月(\d{1,2})日)$') m
$$;

-- A date followed by ` HH:MM` or ` HH:MM:SS` (local time, Asia/Shanghai).
create or replace function xy.to_timestamp_any(t text) returns timestamp
language sql immutable parallel safe as $$
  select case
    when m is null then xy.to_date_any(t)::timestamp
    when m[2]::int < 24 and m[3]::int < 60 and coalesce(m[4], '0')::int < 60
      then xy.to_date_any(m[1]) + make_interval(hours => m[2]::int, mins => m[3]::int, secs => coalesce(m[4], '0')::int)
  end
  from regexp_match(t, '^(\S+)\s+(\d{1,2}):(\d{2})(?::(\d{2}))?$') m
$$;

-- Amounts: thousands separators allowed, full-width digits already folded.
create or replace function xy.to_amount_any(t text) returns numeric
language sql immutable parallel safe as $$
  select case when s ~ '^-?[0-9]{1,15}(\.[0-9]{1,6})?$' then s::numeric end
  from replace(t, ',', '') s
$$;

create or replace function xy.to_int_any(t text) returns bigint
language sql immutable parallel safe as $$
  select case when t ~ '^-?[0-9]{1,15}$' then t::bigint end
$$;

-- Fast paths for the forms nearly every row has (YYYY-MM-DD, YYYY-MM-DD HH:MM:SS, plain
-- decimals): a LIKE shape test plus PostgreSQL's own input check (pg_input_is_valid,
-- PostgreSQL 16+) cost a fraction of a regular expression. Anything else takes the general
-- *_any function above, so the accepted values are the same either way. The functions are
-- STABLE (date input is) and single expressions, so the planner inlines them; the cast
-- applies to a CASE so that constant folding never casts text the test refused.
do $do$
begin
  if current_setting('server_version_num')::int >= 160000 then
    create or replace function xy.to_date(t text) returns date
    language sql stable parallel safe as $$
      select case when t is not null then coalesce(
        (case when t like '____-__-__' and t >= '1800' collate "C" and t < '2201' collate "C"
                   and pg_input_is_valid(t, 'date') then t end)::date,
        xy.to_date_any(t)) end
    $$;
    create or replace function xy.to_timestamp(t text) returns timestamp
    language sql stable parallel safe as $$
      select case when t is not null then coalesce(
        (case when t like '____-__-__ __:__:__' and t >= '1800' collate "C" and t < '2201' collate "C"
                   and t not like '___________24%' and t not like '%:60'
                   and pg_input_is_valid(t, 'timestamp') then t end)::timestamp,
        xy.to_timestamp_any(t)) end
    $$;
    create or replace function xy.to_amount(t text) returns numeric
    language sql stable parallel safe as $$
      select case when t is not null then coalesce(
        (case when length(t) <= 15 and ltrim(t, '0123456789.') = '' and t not like '.%'
                   and t not like '%.' and t not like '%._______%'
                   and pg_input_is_valid(t, 'numeric') then t end)::numeric,
        xy.to_amount_any(t)) end
    $$;
  else
    create or replace function xy.to_date(t text) returns date
    language sql stable parallel safe as $$ select xy.to_date_any(t) $$;
    create or replace function xy.to_timestamp(t text) returns timestamp
    language sql stable parallel safe as $$ select xy.to_timestamp_any(t) $$;
    create or replace function xy.to_amount(t text) returns numeric
    language sql stable parallel safe as $$ select xy.to_amount_any(t) $$;
  end if;
end
$do$;

create or replace function xy.to_int(t text) returns bigint
language sql immutable parallel safe as $$
  select case when t <> '' and length(t) <= 15 and ltrim(t, '0123456789') = '' then t::bigint
              else xy.to_int_any(t) end
$$;

-- Several enumeration values in one cell, separated by ; or ；.
create or replace function xy.split_set(t text) returns text[]
language sql immutable parallel safe as $$
  select array(select xy.clean(p) from unnest(regexp_split_to_array(t, '[;；]')) p where xy.clean(p) is not null)
$$;

-- Masking for anything that leaves raw: 500115********1234, 张**.
create or replace function xy.mask(t text, kind text) returns text
language sql immutable parallel safe as $$
  select case
    when t is null then null
    when kind = 'id' and char_length(t) > 10 then left(t, 6) || repeat('*', char_length(t) - 10) || right(t, 4)
    when kind = 'id' then repeat('*', char_length(t))
    when kind = 'name' then left(t, 1) || repeat('*', greatest(char_length(t) - 1, 1))
    when kind = 'address' then left(t, 6) || '****'
    else t
  end
$$;

-- The keyed hash of personal ID numbers is made in Python (xinyong/runtime/secrets.py):
-- computing it here took the HMAC pads as query parameters, which the server's statement
-- log would record. Warehouses bootstrapped before that lose the function.
drop function if exists xy.keyed_hash(text, bytea, bytea);
