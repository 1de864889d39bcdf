-- What a published row is meaningless without: the entity's name; each explanation's
-- points and reason (a daily build: the changed entities' rows).
select 'entity_credit_profile' as model, entity_key, 'entity_name' as missing
from {{ ref('entity_credit_profile') }} where entity_name is null and {{ changed_entities_only('entity_key') }}
union all
select 'credit_score_explanation', entity_key, 'points'
from {{ ref('credit_score_explanation') }} where points is null and {{ changed_entities_only('entity_key') }}
union all
select 'credit_score_explanation', entity_key, 'reason'
from {{ ref('credit_score_explanation') }} where reason is null and {{ changed_entities_only('entity_key') }}
