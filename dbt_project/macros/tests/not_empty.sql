{# A published table without a row is no publication: an empty feed or a broken join upstream. #}
{% test not_empty(model) %}
select 'no rows' as problem where not exists (select 1 from {{ model }})
{% endtest %}
