#!/usr/bin/env bash
# Runs once, when the PostgreSQL volume is first initialised (docker-entrypoint-initdb.d):
# the warehouse database `xinyong` (owner xinyong, from POSTGRES_DB/POSTGRES_USER) plus
# Airflow's metadata and Metabase's application databases, each with its own owner, and
# the read-only role bi_reader. Xinyong grants bi_reader `publish` at every publication
# (xinyong/publication/roles.py); here it only gets its password.
set -euo pipefail
: "${AIRFLOW_DB_PASSWORD:?}" "${METABASE_DB_PASSWORD:?}" "${BI_READER_PASSWORD:?}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v airflow_pw="$AIRFLOW_DB_PASSWORD" -v metabase_pw="$METABASE_DB_PASSWORD" \
     -v bi_reader_pw="$BI_READER_PASSWORD" <<'SQL'
create role airflow login password :'airflow_pw';
create database airflow owner airflow;
create role metabase login password :'metabase_pw';
create database metabase owner metabase;
create role bi_reader login password :'bi_reader_pw';
revoke all on database airflow, metabase from public;
-- bi_reader reaches the warehouse database, and only what Xinyong grants it there.
grant connect on database xinyong to bi_reader;
SQL
