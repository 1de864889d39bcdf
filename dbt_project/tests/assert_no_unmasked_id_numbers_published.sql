-- No natural person's ID number leaves unmasked: every published ID is in the masked form
-- 500115********1234 (parking shows units by USCC, persons masked).
select 'penalty_disclosure' as model, id_number_masked as value
from {{ ref('penalty_disclosure') }}
where id_number_masked is not null and id_number_masked !~ '^.{6}\*+.{4}$'
union all
select 'rural_credit_household', id_number_masked
from {{ ref('rural_credit_household') }}
where id_number_masked is not null and id_number_masked !~ '^.{6}\*+.{4}$'
union all
select 'parking_credit', owner_display
from {{ ref('parking_credit') }}
where owner_type = '个人' and owner_display !~ '^.{6}\*+.{4}$'
