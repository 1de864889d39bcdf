-- 信用中国's penalty items exclude a person's address and the legal representative's ID:
-- no such column may appear in the published table, whatever its contract says later.
{%- set disclosure = ref('penalty_disclosure') %}
select column_name
from information_schema.columns
where table_schema = '{{ disclosure.schema }}'
  and table_name = '{{ disclosure.identifier }}'
  and column_name ~ '(address|^id_number$|legal_representative_id)'
