-- Schemas and audit tables that the platform owns (the raw tables come from the contracts).
create schema if not exists raw;
create schema if not exists audit;

-- The keyed hash (HMAC-SHA256, key outside the database) of every personal ID number the
-- feeds brought, once per distinct number: staging joins it, so the number itself never
-- leaves raw, and a 1,000,000-row file with 55,000 people costs 55,000 hashes, not a million.
-- No index: it is only ever joined whole (hash joins), and loaders add to it one at a time
-- under an advisory lock, which keeps id_value unique (a dbt test checks it) without the
-- upkeep of a B-tree on the first load of a district's 55,000 owners.
create table if not exists raw.personal_id_digests (
    id_value  text not null,
    digest    text not null
);

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
-- Rows of a file that only update records known from earlier files: a file made mostly of
-- them is a correction (e.g. the parking operator's payment-state updates), not a delivery.
alter table audit.feed_files add column if not exists rows_updating_known bigint;

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

-- Publication and gates (additive): approvals, rollbacks and the candidate kept for approval.
alter table audit.publications add column if not exists held_schema text;
alter table audit.publications add column if not exists approved_by text;
alter table audit.publications add column if not exists approved_reason text;
alter table audit.publications add column if not exists approved_at timestamptz;
alter table audit.publications add column if not exists rolled_back_by text;
alter table audit.publications add column if not exists rolled_back_at timestamptz;
-- The newest loaded file an attempt read (files are numbered in arrival order): whether to
-- build again is decided from state, not from whether this run happened to load rows.
alter table audit.publications add column if not exists input_file_id bigint;

-- The gates' SQL (personal data, tier shift, penalty windows, feed volumes) lives beside
-- the gates, in expectations/sql/gates.sql, applied by xinyong/publication/gates.py.

-- Feed freshness alerts (xinyong/freshness.py): one row per check that found a feed with
-- no file loaded within its contract's cadence_days.
create table if not exists audit.freshness_alerts (
    alert_id       bigserial primary key,
    feed           text not null,
    last_as_of     date,                    -- as-of date of the newest loaded file, if any
    last_received  timestamptz,             -- when that file was loaded
    cadence_days   integer not null,
    detected_at    timestamptz not null default now(),
    message        text not null
);

-- Entries of the landing folder no feed takes up (xinyong/ingest/loader.py,
-- unknown_landing_entries): a folder that is no feed's, a file directly in the root, a
-- subfolder in a feed's folder. Reported, never read: one row per entry while it is there
-- (last_seen moves on every check), resolved_at once a check no longer finds it.
create table if not exists audit.landing_findings (
    finding_id   bigserial primary key,
    entry        text not null,             -- path below the landing root
    reason       text not null,
    first_seen   timestamptz not null default now(),
    last_seen    timestamptz not null default now(),
    resolved_at  timestamptz
);
create unique index if not exists landing_findings_open
    on audit.landing_findings (entry) where resolved_at is null;

-- Objections (异议) and repair applications (信用修复), xinyong/app/cases.py. A case is about
-- one published record (record_kind + record_key as the published table names it); its
-- deadlines are working days from the policy seed case_deadlines, fixed here when the case
-- is opened (decide_by moves once, on an extension). Each transition is a row of
-- case_events with who and when; `effective_on` is the day it counts from in the
-- warehouse (the evaluation date of the decision), so a past day rebuilds as it was.
-- Never in `publish`: the warehouse reads them as the dbt source `cases`.
create table if not exists audit.cases (
    case_id         bigserial primary key,
    case_kind       text not null check (case_kind in ('objection', 'repair')),
    record_kind     text not null,           -- a row of the seed case_record_kinds
    record_key      text not null,           -- the record's key in its published table
    entity_key      text,                    -- the subject, as the published table keys it
    subject_name    text,                    -- as published (natural persons masked)
    applicant       text not null,
    grounds         text not null,
    attachments     text[] not null default '{}',  -- file references, not the files
    decided_by      text not null,           -- credit_office, or the department the record is forwarded to
    opened_on       date not null,
    acknowledge_by  date not null,
    decide_by       date not null,
    extended        boolean not null default false,
    state           text not null default 'received' check (state in
                    ('received', 'forwarded', 'upheld', 'rejected', 'granted', 'refused')),
    failed_rule     text,                    -- the eligibility rule a refused repair failed
    source_answer   text,                    -- the forwarded department's answer
    decided_on      date
);
create table if not exists audit.case_events (
    event_id      bigserial primary key,
    case_id       bigint not null references audit.cases (case_id),
    from_state    text,
    to_state      text not null,
    effective_on  date not null,
    recorded_at   timestamptz not null default now(),
    recorded_by   text not null,
    note          text
);
create index if not exists case_events_case on audit.case_events (case_id);
-- The newest case event an attempt read: a decision adds no file, yet must publish.
alter table audit.publications add column if not exists input_case_event_id bigint;

-- Open cases whose deadline lies before `today` (forwarding, the acknowledgement, for a
-- received case; the decision for any open one): declared once for `xinyong status`, the publication report
-- and the warning to the office.
create or replace function audit.overdue_cases(today date)
returns table (case_id bigint, case_kind text, record_kind text, record_key text, subject_name text,
               state text, decided_by text, deadline_kind text, deadline date)
language sql stable as $$
    select c.case_id, c.case_kind, c.record_kind, c.record_key, c.subject_name, c.state, c.decided_by,
           d.deadline_kind, d.deadline
    from audit.cases c
    cross join lateral (
        select 'decide' as deadline_kind, c.decide_by as deadline where c.decide_by < today
        union all
        select 'acknowledge', c.acknowledge_by where c.state = 'received' and c.acknowledge_by < today
            and not c.decide_by < today
    ) d
    where c.state in ('received', 'forwarded')
    order by d.deadline, c.case_id
$$;
