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

-- Every mail the platform sends (xinyong/publication/mailer.py): one row per message key
-- (a warning batch of a publication for one recipient, a quarantined file, a held or
-- failed publication, a freshness alert), claimed before the SMTP call, so a rerun sends
-- nothing twice. 'sending' left behind means the process died during the call: the mail
-- may have gone, so it is not sent again (shown on the department page). 'failed' (the
-- server refused or was away) is tried again by the next run.
create table if not exists audit.mail_ledger (
    message_key   text primary key,
    event         text not null,            -- risk_warnings / quarantine / publication / freshness
    department    text not null,            -- departments.department_code
    recipient     text not null,            -- the e-mail address
    subject       text not null,
    attachment    text,                     -- the file in the department's outbox folder, if any
    status        text not null check (status in ('sending', 'sent', 'failed')),
    error         text,
    claimed_at    timestamptz not null default now(),
    sent_at       timestamptz
);
-- Every delivery of 信易贷 loan candidates (xinyong/publication/deliveries.py): the outbox
-- extract for the loan platform once per publication, and each page the query API hands a
-- lender. `lender_uscc` is the institution it went to; null when it went to the platform as
-- a whole, which shows the list to every institution on it. `evaluation_date` is the day the
-- delivered publication judged the candidates on (the BI tables count deliveries up to
-- their own evaluation date).
create table if not exists audit.candidate_deliveries (
    delivery_id      bigserial primary key,
    delivered_at     timestamptz not null default now(),
    publication_id   bigint not null,
    evaluation_date  date not null,
    channel          text not null check (channel in ('outbox', 'api')),
    recipient        text not null,          -- the consumer (outbox) or the API client
    lender_uscc      text,
    candidate_count  integer not null,
    new_candidates   integer not null        -- of them, delivered to this audience for the first time
);
-- An outbox folder is delivered once per consumer and publication, however often it is checked.
create unique index if not exists candidate_deliveries_outbox_once
    on audit.candidate_deliveries (recipient, publication_id) where channel = 'outbox';

-- Who was delivered to whom, first: one row per audience (an institution, or null: the
-- platform) and candidate, with its earliest delivery. The daily outbox repeats most of the
-- list, so keeping every delivery's keys would grow by the whole list a day (a year of a
-- 45,000-candidate outbox: 600 MB, and 200 s to count in the BI table); this grows by the
-- candidates that are new. Conversion (who applied after being delivered) reads it.
create table if not exists audit.delivered_candidates (
    lender_uscc        text,
    entity_key         text not null,
    first_delivered_on date not null,        -- the evaluation date of the earliest delivery
    first_delivery_id  bigint not null references audit.candidate_deliveries (delivery_id)
);
create unique index if not exists delivered_candidates_once
    on audit.delivered_candidates (coalesce(lender_uscc, ''), entity_key);
-- Publication history (xinyong/publication/history.py), written inside each swap's
-- transaction; never swapped, never rewritten. Which publication was live when: one row per
-- time one went live (a swap, an approval, a rollback), closed when the next one did.
create schema if not exists history;
create table if not exists history.live_periods (
    period_id       bigserial primary key,
    publication_id  bigint not null,
    live_from       timestamptz not null,
    live_until      timestamptz,            -- null while it is live
    cause           text not null check (cause in ('published', 'rolled_back_to'))
);
create unique index if not exists live_periods_one_open on history.live_periods ((true)) where live_until is null;
-- One row per entity and publication in which its published profile or score explanation
-- changed (not a copy per day): the values of publication P are each entity's newest row
-- with publication_id <= P; `profile` null means the entity left the publication then.
-- evaluation_date is left out of the document, or every day would change every row.
create table if not exists history.entity_profile_versions (
    entity_key      text not null,
    publication_id  bigint not null,
    uscc            text,
    tier            text,
    score           integer,
    profile         jsonb,                  -- the entity_credit_profile row, evaluation_date aside
    explanation     jsonb,                  -- its credit_score_explanation rows
    primary key (entity_key, publication_id)
);
create index if not exists entity_profile_versions_uscc on history.entity_profile_versions (uscc, publication_id);
-- A subject's tier history, one query: select * from history.tier_history where uscc = '...'
create or replace view history.tier_history as
select v.uscc, v.entity_key, v.publication_id, p.evaluation_date, p.finished_at as published_at,
       v.tier, v.score, v.profile is null as left_publication
from history.entity_profile_versions v
join audit.publications p using (publication_id);

-- The credit query API (xinyong/api): its clients (lenders), their authorisations, batch
-- agreements with towns. Written by the platform (clients, agreements) and by the API's
-- role (authorisations); never swapped.
create schema if not exists api;
create table if not exists api.clients (
    client_id         bigserial primary key,
    name              text not null,
    institution_uscc  text not null,            -- the 金融机构's 统一社会信用代码
    key_id            text not null unique,     -- the public half of the key, to find the row
    key_hash          text not null,            -- argon2id of the whole key (argon2-cffi)
    rate_limit        text not null,            -- e.g. '120/minute' (the `limits` library's notation)
    created_at        timestamptz not null default now(),
    revoked_at        timestamptz
);
create table if not exists api.authorisations (
    authorisation_id   bigserial primary key,
    client_id          bigint not null references api.clients (client_id),
    authorisation_no   text not null,           -- 授权书编号
    subject_uscc       text,                    -- a market entity, or
    subject_person_key text,                    -- a natural person: the key derived from the keyed hash of the ID number
    purpose            text not null,
    valid_from         date not null,
    valid_to           date not null check (valid_to >= valid_from),
    registered_at      timestamptz not null default now(),
    check ((subject_uscc is null) <> (subject_person_key is null)),
    unique (client_id, authorisation_no)
);
create table if not exists api.batch_agreements (
    agreement_id   bigserial primary key,
    client_id      bigint not null references api.clients (client_id),
    agreement_no   text not null,
    town           text not null,               -- 批量授信 with this town's 信用户
    valid_from     date not null,
    valid_to       date not null check (valid_to >= valid_from),
    registered_at  timestamptz not null default now(),
    unique (client_id, agreement_no)
);
-- A lender's watched borrowers: the market entities it registered under a valid
-- authorisation. loan_outcome's borrowers join with one more `union`.
create or replace view api.watched_borrowers as
select distinct client_id, subject_uscc as uscc
from api.authorisations
where subject_uscc is not null and current_date between valid_from and valid_to;

-- Every query the API answered or refused, one row each; append-only for the API's role
-- (INSERT and SELECT granted, nothing else).
create table if not exists audit.api_queries (
    query_id          bigserial primary key,
    client_id         bigint references api.clients (client_id),
    endpoint          text not null,
    subject_uscc      text,
    subject_key       text,                     -- a natural person's key, never an ID number
    purpose           text,
    authorisation_id  bigint,
    publication_id    bigint,
    status            integer not null,
    asked_at          timestamptz not null default now()
);
create index if not exists api_queries_subject on audit.api_queries (subject_uscc, asked_at);
create index if not exists api_queries_person on audit.api_queries (subject_key, asked_at);
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
