#!/usr/bin/env bash
# Runs once, as the superuser `postgres`, when the PostgreSQL volume is first initialised
# (docker-entrypoint-initdb.d). The superuser only creates databases and roles here; nothing
# of Xinyong's runs as it afterwards:
#   xinyong    owns the warehouse database `xinyong`; no superuser. CREATEROLE lets it create
#              the consumers' roles declared in dbt_project/models/exposures.yml (on PostgreSQL
#              16 and later it can then manage only the roles it made); it sets no passwords
#              for them: give each one with `alter role <role> password '...'` as `postgres`.
#              pg_read_all_stats lets it name the sessions that hold a publication it may not swap.
#   airflow    owns Airflow's metadata database; superset owns Superset's.
#   bi_reader  Superset's login to the warehouse; Xinyong grants it `publish` at every
#              publication (xinyong/publication/roles.py) and never changes its password.
#   credit_api the credit query API's login (service credit-api); Xinyong grants it at every
#              publication and on `xinyong api` start (roles.apply_api).
set -euo pipefail
: "${XINYONG_DB_PASSWORD:?}" "${AIRFLOW_DB_PASSWORD:?}" "${SUPERSET_DB_PASSWORD:?}" "${BI_READER_PASSWORD:?}" "${CREDIT_API_DB_PASSWORD:?}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v xinyong_pw="$XINYONG_DB_PASSWORD" -v airflow_pw="$AIRFLOW_DB_PASSWORD" \
     -v superset_pw="$SUPERSET_DB_PASSWORD" -v bi_reader_pw="$BI_READER_PASSWORD" \
     -v credit_api_pw="$CREDIT_API_DB_PASSWORD" <<'SQL'
create role xinyong login nosuperuser nocreatedb createrole password :'xinyong_pw';
grant pg_read_all_stats to xinyong;
create database xinyong owner xinyong;
create role airflow login password :'airflow_pw';
create database airflow owner airflow;
create role superset login password :'superset_pw';
create database superset owner superset;
create role bi_reader login password :'bi_reader_pw';
revoke all on database airflow, superset from public;
-- bi_reader reaches the warehouse database, and only what Xinyong grants it there.
grant connect on database xinyong to bi_reader;
create role credit_api login password :'credit_api_pw';
grant connect on database xinyong to credit_api;
SQL
