{{
    config(
        materialized='incremental',
        incremental_strategy='changed_entities',
        unique_key='uscc',
        meta={'changed_key': 'uscc'},
        indexes=[{'columns': ['uscc']}],
    )
}}
-- depends_on: {{ ref('int_entities_changed') }}
-- One row per market entity per scoring rule that applies to it, with the source record
-- that triggered it. Everything the evaluation says about an entity starts here.
-- Natural persons are never scored here: they get no public tier.
-- Incremental by entity (macros/incremental_by_entity.sql): a daily build scores the
-- entities in int_entities_changed only; every other CTE joins `entities`.

with

-- the market entities (registered), with the register row behind their registration rules
entities as (
    select uscc, registration_status, established_on,
        register_source_file as source_file, register_source_row as source_row
    from {{ ref('int_entities_resolved') }}
    where is_market_entity and {{ only_changed_entities('uscc') }}
),

tax as (
    select tax.* from {{ ref('int_tax_ratings_latest') }} as tax join entities using (uscc)
),

penalties as (
    select penalties.*
    from {{ ref('int_penalties_windowed') }} as penalties
    join entities using (uscc)
    where not penalties.is_natural_person
),

parking_owners as (
    select owners.* from {{ ref('int_parking_owners_aggregated') }} as owners
    join entities on entities.uscc = owners.owner_uscc
),

-- records a parking case settled (int_parking_owners_aggregated) count no longer
parking_records as (
    select records.*
    from {{ ref('int_parking_records_merged') }} as records
    join entities on entities.uscc = records.owner_uscc
    where records.entered_at < {{ evaluation_date() }} + 1
        and not exists (
            select 1 from {{ ref('int_case_corrections') }} as corrections
            where corrections.record_kind = 'parking'
                and corrections.record_key = {{ organisation_key('records.owner_uscc') }}
                and records.entered_at < corrections.decided_on + 1
        )
),

-- distinct on, not row_number() … = 1 (estimated at 0.5 % of the rows: macros/latest_version.sql)
latest_cooperatives as (
    select distinct on (uscc) *
    from {{ ref('stg_rural_cooperative__cooperatives') }}
    order by uscc, rating_year desc
),

cooperatives as (
    select latest_cooperatives.* from latest_cooperatives join entities using (uscc)
),

commitments as (
    select commitments.*
    from {{ ref('int_commitments_judged') }} as commitments
    join entities using (uscc)
    where not commitments.is_natural_person
),

grey_listed as (
    select listed.*
    from {{ ref('int_commitment_subjects_listed') }} as listed
    join entities using (uscc)
    where listed.list_type = 'grey'
),

-- the court's list: a registered subject is capped at D while its case is listed
court_cases as (
    select cases.*
    from {{ ref('int_court_cases_matched') }} as cases
    join entities using (uscc)
    where cases.is_listed
),

-- each hit: the entity, the rule, the source record, and a date ordering repeated hits
-- (the newest count first when a rule caps its hits per entity)

base as (
    select uscc, 'BASE' as rule_id,
        null::text as source_feed, null::text as source_file, null::bigint as source_row, null::date as hit_date
    from entities
),

registration as (
    select uscc,
        case
            when registration_status in ('存续', '在业') then 'REG_ACTIVE'
            when registration_status = '吊销' then 'REG_REVOKED'
            else 'REG_CLOSED'
        end,
        'entity_register', source_file, source_row, null::date
    from entities
),

registration_age as (
    select uscc, 'REG_AGE_5Y', 'entity_register', source_file, source_row, null::date
    from entities
    where {{ registration_age_reached('established_on') }}
),

tax_grade as (
    select uscc, 'TAX_GRADE_' || tax_grade, 'tax_credit', source_file, source_row, null::date
    from tax
),

tax_arrears as (
    select uscc, 'TAX_ARREARS', 'tax_credit', source_file, source_row, null::date
    from tax
    where tax_arrears_yuan > 0
),

tax_major_violator as (
    select uscc, 'TAX_MAJOR_VIOLATOR', 'tax_credit', source_file, source_row, null::date
    from tax
    where is_major_tax_violator
),

-- penalties count only inside their publicity window
penalty_severity as (
    select uscc, case when dishonesty_level = '严重' then 'PEN_SERIOUS' else 'PEN_GENERAL' end,
        'penalty', source_file, source_row, decision_date
    from penalties
    where is_public
),

penalty_recency as (
    select uscc, 'PEN_RECENT', 'penalty', source_file, source_row, decision_date
    from penalties
    where is_public and is_recent
),

repair as (
    select uscc, 'REPAIR_DONE', repair_source_feed, repair_source_file, repair_source_row, repaired_on
    from penalties
    where {{ repair_bonus_applies('repaired_on') }}
),

parking_arrears as (
    select owner_uscc, 'PARKING_ARREARS', 'parking', source_file, source_row, entered_at::date
    from parking_records
    where payment_status = '欠费'
        and reminder_count >= {{ scoring_parameter('parking_arrears_min_reminders') }}
),

parking_on_time as (
    select owner_uscc, 'PARKING_ON_TIME', 'parking', latest_source_file, latest_source_row, null::date
    from parking_owners
    where on_time_count = record_count
        and record_count >= {{ scoring_parameter('parking_on_time_min_records') }}
),

cooperative_evaluation as (
    select uscc,
        case village_rating
            when '优' then 'COOP_EVAL_EXCELLENT'
            when '良' then 'COOP_EVAL_GOOD'
            when '中' then 'COOP_EVAL_FAIR'
            else 'COOP_EVAL_POOR'
        end,
        'rural_cooperative', source_file, source_row, null::date
    from cooperatives
),

cooperative_loan_overdue as (
    select uscc, 'COOP_LOAN_OVERDUE', 'rural_cooperative', source_file, source_row, null::date
    from cooperatives
    where loan_overdue_count > 0
),

-- commitments: each kept or broken one points at the commitment's row; the grey-list cap at
-- the newest broken commitment behind the listing
commitment_kept as (
    select uscc, 'COMMIT_KEPT', 'commitment', source_file, source_row, kept_on
    from commitments
    where is_recently_kept
),

commitment_broken as (
    select uscc, 'COMMIT_BROKEN', 'commitment', source_file, source_row, broken_on
    from commitments
    where is_recently_broken
),

commitment_grey_list as (
    select uscc, 'COMMIT_GREY_LIST', 'commitment', latest_source_file, latest_source_row, start_date
    from grey_listed
),

court_dishonest as (
    select uscc, 'COURT_DISHONEST', 'court_dishonest', source_file, source_row, published_on
    from court_cases
),

-- a decision in the subject's favour points at its case (audit.cases): the penalty an
-- upheld objection withdrew, the grey listing a granted repair or upheld objection ended
case_corrections as (
    select uscc, 'CASE_CORRECTED', 'case', 'audit.cases', objection_case_id, objection_upheld_on
    from penalties
    where is_withdrawn_by_objection

    union all

    select corrections.record_key, 'CASE_CORRECTED', 'case', 'audit.cases', corrections.case_id,
        corrections.decided_on
    from {{ ref('int_case_corrections') }} as corrections
    join entities on entities.uscc = corrections.record_key
    where corrections.record_kind = 'commitment_grey_list'
        and {{ grey_list_correction_counts('corrections.decided_on') }}
),

hits as (
    select * from base
    union all select * from registration
    union all select * from registration_age
    union all select * from tax_grade
    union all select * from tax_arrears
    union all select * from tax_major_violator
    union all select * from penalty_severity
    union all select * from penalty_recency
    union all select * from repair
    union all select * from parking_arrears
    union all select * from parking_on_time
    union all select * from cooperative_evaluation
    union all select * from cooperative_loan_overdue
    union all select * from commitment_kept
    union all select * from commitment_broken
    union all select * from commitment_grey_list
    union all select * from court_dishonest
    union all select * from case_corrections
),

ranked_hits as (
    select hits.*, rules.dimension, rules.points, rules.max_hits, rules.forces_tier, rules.description,
        row_number() over (
            partition by hits.uscc, hits.rule_id
            order by hits.hit_date desc nulls last, hits.source_file, hits.source_row
        ) as hit_rank
    from hits
    join {{ ref('scoring_rules') }} as rules using (rule_id)
),

-- a rule counts at most max_hits times per entity (its newest hits); a rule that moves
-- neither score nor tier is no explanation, except a case's correction, which says why a
-- record no longer counts
scored_hits as (
    select uscc, rule_id, source_feed, source_file, source_row, dimension, points, forces_tier, description
    from ranked_hits
    where hit_rank <= max_hits and (points <> 0 or forces_tier is not null or dimension = 'case')
),

bounds as (
    select
        max(points) filter (where rule_id = 'SCORE_FLOOR') as floor_score,
        max(points) filter (where rule_id = 'SCORE_CEILING') as ceiling_score
    from {{ ref('scoring_rules') }}
),

-- The score stays inside [floor, ceiling]; the adjustment is itself an explained row,
-- so explanations still add up to the published score.
bound_adjustments as (
    select
        totals.uscc,
        case when totals.total < bounds.floor_score then 'SCORE_FLOOR' else 'SCORE_CEILING' end as rule_id,
        null::text as source_feed, null::text as source_file, null::bigint as source_row,
        'bound' as dimension,
        (case when totals.total < bounds.floor_score then bounds.floor_score
              else bounds.ceiling_score end - totals.total)::integer as points,
        null::text as forces_tier,
        rules.description
    from (select uscc, sum(points) as total from scored_hits group by uscc) as totals
    cross join bounds
    join {{ ref('scoring_rules') }} as rules
        on rules.rule_id = case when totals.total < bounds.floor_score then 'SCORE_FLOOR' else 'SCORE_CEILING' end
    where totals.total < bounds.floor_score or totals.total > bounds.ceiling_score
),

all_hits as (
    select * from scored_hits
    union all
    select * from bound_adjustments
)

select
    {{ organisation_key('uscc') }} as entity_key,
    uscc,
    rule_id,
    dimension,
    points,
    forces_tier,
    description as reason,
    source_feed,
    source_file,
    source_row
from all_hits
