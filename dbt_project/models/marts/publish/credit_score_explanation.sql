-- Every point of every score, traced to a rule and a source record; rows add up to the score.

select
    entity_key::text as entity_key,
    rule_id::text as rule_id,
    dimension::text as dimension,
    points::integer as points,
    reason::text as reason,
    source_feed::text as source_feed,
    source_file::text as source_file,
    source_row::bigint as source_row
from {{ published_rows(ref('int_entity_rule_hits')) }} as kept
