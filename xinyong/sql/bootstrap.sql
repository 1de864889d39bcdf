-- Schemas and audit tables that the platform owns (the raw tables come from the contracts).
create schema if not exists raw;
create schema if not exists audit;

create table if not exists audit.feed_files (
    file_id        bigserial primary key,
    feed           text not null,
    file_name      text not null,
    sha256         text not null,
    as_of          date,
    status         text not null check (status in
                   ('loaded', 'loaded_with_rejects', 'quarantined', 'duplicate', 'unreadable')),
    rows_read      bigint not null default 0,
    rows_loaded    bigint not null default 0,
    rows_rejected  bigint not null default 0,
    message        text,
    report_path    text,
    started_at     timestamptz not null,
    finished_at    timestamptz not null default now(),
    check (rows_read = rows_loaded + rows_rejected)
);
-- The same bytes are taken once per feed; later copies are recorded as duplicates.
create unique index if not exists feed_files_once
    on audit.feed_files (feed, sha256) where status in ('loaded', 'loaded_with_rejects', 'quarantined');

create table if not exists audit.rejected_rows (
    file_id      bigint not null references audit.feed_files (file_id),
    feed         text not null,
    file_name    text not null,
    row_number   bigint not null,          -- as in the file, header = row 1
    column_name  text not null,            -- the contract's Chinese header
    value        text,                     -- masked where personal
    reason       text not null
);
create index if not exists rejected_rows_file on audit.rejected_rows (file_id);

create table if not exists audit.publications (
    publication_id  bigserial primary key,
    started_at      timestamptz not null default now(),
    finished_at     timestamptz,
    status          text not null check (status in ('running', 'published', 'failed', 'rolled_back', 'superseded')),
    evaluation_date date,
    reason          text,
    gate_results    jsonb,
    row_counts      jsonb,
    artifacts       jsonb
);
