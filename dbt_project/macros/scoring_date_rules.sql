{#
  The evaluation-date tests int_entity_rule_hits applies itself (the others live in the
  intermediate models it reads, as flags). Declared here once: the rule hits apply them, and
  int_entity_input_fingerprints evaluates them so that an entity whose test flips from one
  build's date to the next is recomputed by the incremental build.
#}
{% macro registration_age_reached(established_on) -%}
    ({{ established_on }} <= {{ evaluation_date() }}
        - {{ scoring_parameter('registration_age_years') }} * interval '1 year')
{%- endmacro %}

{% macro repair_bonus_applies(repaired_on) -%}
    ({{ repaired_on }} <= {{ evaluation_date() }}
        and {{ repaired_on }} > {{ evaluation_date() }} - {{ scoring_parameter('repair_bonus_months') }} * interval '1 month')
{%- endmacro %}

{% macro grey_list_correction_counts(decided_on) -%}
    ({{ decided_on }} > ({{ evaluation_date() }}
        - {{ scoring_parameter('commitment_grey_list_months') }} * interval '1 month')::date)
{%- endmacro %}
