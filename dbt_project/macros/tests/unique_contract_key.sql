{#
  The key of a feed's contract identifies one row: present and unique. On a staging model
  `stg_<feed>__<entities>` the feed is taken from the model's name; elsewhere name it.
#}
{% test unique_contract_key(model, feed=none) %}
{%- set feed = feed or staging_feed(model.identifier) -%}
{%- set key = contract_key(feed) -%}
select {{ key | join(', ') }}, count(*) as n
from {{ model }}
group by {{ key | join(', ') }}
having count(*) > 1
    or {% for column in key %}{{ column }} is null{% if not loop.last %} or {% endif %}{% endfor %}
{% endtest %}
