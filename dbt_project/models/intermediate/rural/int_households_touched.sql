-- The householders whose rows the household feed's update touched in this build (the versions
-- it replaced and wrote, macros/latest_kept_version.sql), which int_households_rated rates
-- again. The household feed is all that model reads, so the parties other feeds touched
-- (int_parties_touched: a city's parking day names some 760,000 owners) need no new rating.
-- With no usable state (build_scope 'all') every household is rated and this set is not read.
-- depends_on: {{ ref('stg_credit_household__households') }}

{% if build_scope().kind == 'changed' %}

select distinct {{ person_key('id_number_hash') }} as entity_key, id_number_hash
from {{ kept_version_touched_rows('stg_credit_household__households') }}
where id_number_hash is not null

{% else %}

select null::text as entity_key, null::text as id_number_hash
where false

{% endif %}
