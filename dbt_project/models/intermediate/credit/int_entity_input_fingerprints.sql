{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='uscc',
        indexes=[{'columns': ['uscc']}],
    )
}}
-- A fingerprint of everything the per-entity models (int_entity_rule_hits, the profile,
-- int_domain_supervision) read about a market entity, parking aside (int_entities_changed
-- takes parking from the files loaded since the last build): its register row, tax rating,
-- penalties, cooperative ratings, commitments, grey listing, court cases, corrections,
-- objection flags and current domain ratings, each row as the intermediate models give it
-- for this evaluation date, with their date-driven flags (publicity window, recency, repair,
-- commitment windows, court removal, rating expiry) and the date tests the rule hits apply
-- themselves (macros/scoring_date_rules.sql). An entity whose fingerprint differs from the
-- last build's, whether a file or the date changed it, is recomputed. Incremental: only the
-- entities whose fingerprint changed are rewritten, marked with this run's invocation id;
-- an entity that vanished gets a null fingerprint.

with

entities as (
    select uscc from {{ ref('int_entities_resolved') }} where is_market_entity
),

inputs as (
    select entities.uscc, 'entity' || entities::text
        || {{ registration_age_reached('entities.established_on') }}::text as row_text
    from {{ ref('int_entities_resolved') }} as entities
    where entities.is_market_entity

    union all
    select tax.uscc, 'tax' || tax::text from {{ ref('int_tax_ratings_latest') }} as tax

    union all
    select penalties.uscc, 'penalty' || penalties::text
        || coalesce({{ repair_bonus_applies('penalties.repaired_on') }}, false)::text
    from {{ ref('int_penalties_windowed') }} as penalties
    where not penalties.is_natural_person

    union all
    select cooperatives.uscc, 'cooperative' || cooperatives::text
    from {{ ref('stg_rural_cooperative__cooperatives') }} as cooperatives

    union all
    select commitments.uscc, 'commitment' || commitments::text
    from {{ ref('int_commitments_judged') }} as commitments
    where not commitments.is_natural_person

    union all
    select listed.uscc, 'grey' || listed::text
    from {{ ref('int_commitment_subjects_listed') }} as listed
    where listed.list_type = 'grey'

    union all
    select court.uscc, 'court' || court::text from {{ ref('int_court_cases_matched') }} as court

    union all
    select corrections.record_key, 'correction' || corrections::text
        || {{ grey_list_correction_counts('corrections.decided_on') }}::text
    from {{ ref('int_case_corrections') }} as corrections
    where corrections.record_kind = 'commitment_grey_list'

    union all
    select ratings.uscc, 'domain_rating' || ratings::text
    from {{ ref('int_domain_ratings_current') }} as ratings

    union all
    select flags.record_key, 'objection' || flags::text
    from {{ ref('int_case_record_flags') }} as flags
    where flags.record_kind = 'tax_grade'
),

fingerprints as (
    select inputs.uscc, md5(string_agg(inputs.row_text, '|' order by inputs.row_text)) as fingerprint
    from inputs
    join entities using (uscc)
    group by inputs.uscc
)

{% if is_incremental() %}
select
    coalesce(fingerprints.uscc, previous.uscc) as uscc,
    fingerprints.fingerprint,
    '{{ invocation_id }}'::text as changed_in
from fingerprints
full join {{ this }} as previous using (uscc)
where fingerprints.fingerprint is distinct from previous.fingerprint
{% else %}
select uscc, fingerprint, '{{ invocation_id }}'::text as changed_in from fingerprints
{% endif %}
