"""Publication: write (dbt build into the candidate schema), audit (GX gates), publish
(one transaction), then the consumers' grants, the outbox and the reports."""
