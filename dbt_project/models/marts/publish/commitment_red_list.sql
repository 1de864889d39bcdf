-- 践诺红名单 (macros/commitment_list.sql).
{{ commitment_list('red') }}
