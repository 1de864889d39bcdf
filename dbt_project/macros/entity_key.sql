{#
  The one place an entity key is derived. Market entities (organisations and individual
  businesses) by USCC; natural persons by the keyed hash of their ID number, computed at
  ingest with a key kept outside the database, so the number itself never leaves `raw`.
  The md5's hex digits are spelled as letters (0-9 → g-p): a hex key holds a digit run that
  passes the 身份证 pattern about once in 300,000 keys, and the personal-data gate would
  take it for an ID number. Spelled by ten replace() calls, the same letters as
  translate(key, '0123456789', 'ghijklmnop') (xinyong/api/service.py looks keys up that way):
  in a UTF-8 database translate() costs ~3 µs a key, 2.5 s a million parking records, and a
  plan can derive a key several times per row (join, projection, sort).
#}
{% macro organisation_key(uscc) -%}
    {{ hex_digits_as_letters("md5('org:' || " ~ uscc ~ ")") }}
{%- endmacro %}

{% macro person_key(id_hash) -%}
    {{ hex_digits_as_letters("md5('person:' || " ~ id_hash ~ ")") }}
{%- endmacro %}

{% macro hex_digits_as_letters(hex) -%}
    {%- set spelled = namespace(sql=hex) -%}
    {%- for digit, letter in zip('0123456789', 'ghijklmnop') -%}
        {%- set spelled.sql = "replace(" ~ spelled.sql ~ ", '" ~ digit ~ "', '" ~ letter ~ "')" -%}
    {%- endfor -%}
    {{ spelled.sql }}
{%- endmacro %}
