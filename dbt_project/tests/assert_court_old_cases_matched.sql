-- Reported, not blocking: an old court case carrying only an 组织机构代码 that matches no
-- registered subject (characters 9-17 of a USCC), or more than one. The credit office finds
-- it in the dbt results of the publication.
{{ config(severity='warn') }}

select case_no, organisation_code, source_file, source_row
from {{ ref('int_court_cases_matched') }}
where match_method = 'unmatched'
