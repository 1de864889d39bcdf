-- Generated from connectors/*.yml by deploy/citus/distribute_raw.py; do not edit.
-- Citus: distribute the raw feed tables once, after `xinyong setup` created them and
-- before the first ingest (psql -f deploy/citus/distribute_raw.sql on the coordinator).
-- Keys and reasons: deploy/README.md, "What is distributed, on what key".
create extension if not exists citus;
set citus.enable_repartition_joins = on;

select create_distributed_table('raw.loan_outcome', 'application_no');
select create_distributed_table('raw.court_dishonest', 'case_no');
select create_distributed_table('raw.commitment', 'commitment_no');
select create_distributed_table('raw.penalty', 'decision_no');
select create_distributed_table('raw.credit_repair', 'decision_no', colocate_with => 'raw.penalty');
select create_distributed_table('raw.parking', 'record_no');
select create_distributed_table('raw.entity_register', 'uscc');
select create_distributed_table('raw.domain_rating', 'uscc', colocate_with => 'raw.entity_register');
select create_distributed_table('raw.list_exchange', 'uscc', colocate_with => 'raw.entity_register');
select create_distributed_table('raw.rural_cooperative', 'uscc', colocate_with => 'raw.entity_register');
select create_distributed_table('raw.tax_credit', 'uscc', colocate_with => 'raw.entity_register');
-- keyed on a personal ID number: co-located with its digests on the number
select create_distributed_table('raw.personal_id_digests', 'id_value');
select create_distributed_table('raw.credit_household', 'id_number', colocate_with => 'raw.personal_id_digests');

-- audit rows commit in the same transaction as the raw rows of their file
select citus_add_local_table_to_metadata('audit.feed_files', cascade_via_foreign_keys => true);
select citus_add_local_table_to_metadata('audit.rejected_rows', cascade_via_foreign_keys => true);
select citus_add_local_table_to_metadata('audit.publications', cascade_via_foreign_keys => true);

alter role current_user set citus.enable_repartition_joins = on;
