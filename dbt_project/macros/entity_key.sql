{#
  The one place an entity key is derived. Market entities (organisations and individual
  businesses) by USCC; natural persons by the keyed hash of their ID number, computed at
  ingest with a key kept outside the database, so the number itself never leaves `raw`.
  The md5's hex digits are spelled as letters (0-9 → g-p): a hex key holds a digit run that
  passes the 身份证 pattern about once in 300,000 keys, and the personal-data gate would
  take it for an ID number.
#}
{% macro organisation_key(uscc) -%}
    translate(md5('org:' || {{ uscc }}), '0123456789', 'ghijklmnop')
{%- endmacro %}

{% macro person_key(id_hash) -%}
    translate(md5('person:' || {{ id_hash }}), '0123456789', 'ghijklmnop')
{%- endmacro %}
