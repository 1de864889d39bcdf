-- 践诺灰名单 (macros/commitment_list.sql).
{{ commitment_list('grey') }}
