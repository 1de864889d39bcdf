-- Every published 统一社会信用代码 is a valid code (GB 32100-2015 alphabet and its MOD 31-3
-- check character, xy.uscc_ok), as the entity register's contract requires on ingest (a daily
-- build: the changed entities').
select entity_key, uscc
from {{ ref('entity_credit_profile') }}
where not xy.uscc_ok(uscc) and {{ changed_entities_only('entity_key') }}
