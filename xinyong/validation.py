"""The validating SQL of a feed, derived from its contract.

A file is COPYed as text into a temporary table; one statement types every column and
one statement lists every (row, column, reason) that breaks a rule. Doing it set-based
inside PostgreSQL is what keeps validation close to the speed of a plain COPY.
"""
from __future__ import annotations

import re

from xinyong.contracts import Check, Column, Contract

REQUIRED = "必填项为空"
NUMERIC_CODE_CELL = "代码列是数值单元格（Excel 会改变代码），请设为文本格式后重新报送"
REASONS = {
    "uscc": "统一社会信用代码无效（校验位错误，或被 Excel 转换为数字）",
    "ric": "身份证号码无效（校验位错误或出生日期不存在）",
    "date": "日期格式无法识别（应为 YYYY-MM-DD、YYYY/M/D、YYYYMMDD 或 YYYY年M月D日）",
    "datetime": "时间格式无法识别（应为日期加 HH:MM 或 HH:MM:SS）",
    "amount": "金额不是有效数字",
    "integer": "不是有效整数",
    "year": "年度应为四位年份",
}


def _lit(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _array(values) -> str:
    return "array[" + ", ".join(_lit(v) for v in values) + "]::text[]"


def text_expr(col: Column, source: str) -> str:
    """Cleaned text of a landing column."""
    if col.is_code:
        return f"upper(xy.fold({source}))"
    if col.type in ("date", "datetime", "amount", "integer", "year"):
        return f"xy.fold({source})"
    return f"xy.clean({source})"


def typed_expr(col: Column, t: str) -> str:
    """Typed value from the cleaned text column `t`."""
    return {
        "date": f"xy.to_date({t})",
        "datetime": f"xy.to_timestamp({t})",
        "amount": f"xy.to_amount({t})",
        "integer": f"xy.to_int({t})",
        "year": f"case when {t} ~ '^[12][0-9]{{3}}$' then {t}::int end",
        "enum_set": f"array_to_string(xy.split_set({t}), ';')",
    }.get(col.type, t)


def _t(name: str) -> str:
    return f'c."{name}__t"'


def _v(name: str) -> str:
    return f'c."{name}"'


def render(expr: str, contract: Contract) -> str:
    """`{col}` is the typed value, `{col.text}` the cleaned text, both of the row `c`."""
    names = {c.name for c in contract.columns}

    def sub(m: re.Match) -> str:
        name, text = m.group(1), m.group(2)
        if name not in names:
            raise ValueError(f"{contract.feed}: unknown column {{{name}}} in {expr!r}")
        return _t(name) if text else _v(name)

    return re.sub(r"\{(\w+)(\.text)?\}", sub, expr)


def column_reason(col: Column) -> str:
    """A CASE giving the first rule the column's own value breaks, or NULL."""
    t, v = _t(col.name), _v(col.name)
    arms = []
    if col.required:
        arms.append(f"when {t} is null then {_lit(REQUIRED)}")
    if col.type in ("date", "datetime", "amount", "integer", "year"):
        arms.append(f"when {t} is not null and {v} is null then {_lit(REASONS[col.type])}")
    if col.type == "uscc":
        arms.append(f"when {t} is not null and not xy.uscc_ok({t}) then {_lit(REASONS['uscc'])}")
    if col.type == "ric":
        arms.append(f"when {t} is not null and not xy.ric_ok({t}) then {_lit(REASONS['ric'])}")
    if col.type == "enum":
        allowed = "、".join(col.values)
        arms.append(f"when {t} <> all({_array(col.values)}) then {_lit('不在允许的取值范围内（' + allowed + '）')}")
    if col.type == "enum_set":
        allowed = "、".join(col.values)
        arms.append(f"when not (xy.split_set({t}) <@ {_array(col.values)}) "
                    f"then {_lit('含不允许的取值（允许：' + allowed + '，以;分隔）')}")
    if col.min is not None:
        arms.append(f"when {v} < {col.min} then {_lit(f'不能小于 {col.min:g}')}")
    if col.max is not None:
        arms.append(f"when {v} > {col.max} then {_lit(f'不能大于 {col.max:g}')}")
    return "case " + " ".join(arms) + " end" if arms else "null::text"


def masked_value(col: Column, contract: Contract) -> str:
    t = _t(col.name)
    if not col.personal:
        return t
    masked = f"xy.mask({t}, {_lit(col.personal)})"
    if col.personal_when:
        return f"case when coalesce({render(col.personal_when, contract)}, true) then {masked} else {t} end"
    return masked


def typed_select(contract: Contract) -> str:
    """SELECT over `_landing` giving, per column, `<name>__t` (clean text) and `<name>` (typed)."""
    inner = ",\n    ".join(f'{text_expr(c, f"l.{c.name}")} as "{c.name}__t"' for c in contract.columns)
    outer = ",\n  ".join(f'{typed_expr(c, _t(c.name))} as "{c.name}"' for c in contract.columns)
    return f"""select c.*,
  {outer}
from (select l._row, l._extra, l._reader_errors,
    {inner}
  from _landing l) c"""


def errors_select(contract: Contract) -> str:
    """SELECT over `_typed c` of (row, header, masked value, reason) for every broken rule."""
    entries = []
    for col in contract.columns:
        entries.append(f"({_lit(col.header)}, {masked_value(col, contract)}, {column_reason(col)})")
        if col.is_code:  # the reader saw a number where a code belongs (XLSX)
            entries.append(f"({_lit(col.header)}, {masked_value(col, contract)}, "
                           f"case when strpos(c._reader_errors, {_lit(',' + col.name + ',')}) > 0 "
                           f"then {_lit(NUMERIC_CODE_CELL)} end)")
    for check in contract.checks:
        col = contract.column(check.column)
        entries.append(f"({_lit(col.header)}, {masked_value(col, contract)}, "
                       f"case when coalesce(({render(check.fail_if, contract)}), false) "
                       f"then {_lit(check.reason)} end)")
    values = ",\n    ".join(entries)
    return f"""select c._row, e.column_name, e.value, e.reason
from _typed c cross join lateral (values
    {values}
) e(column_name, value, reason)
where e.reason is not null"""


def insert_good_rows(contract: Contract) -> str:
    """INSERT of the rows without findings; personal IDs also get their keyed hash."""
    hashed = [c for c in contract.columns if c.personal == "id"]
    cols = ", ".join([c.name for c in contract.columns] + [f"{c.name}_hash" for c in hashed])
    vals = ", ".join([_v(c.name) for c in contract.columns]
                     + [f"xy.keyed_hash({_v(c.name)}, %(hmac_ipad)s, %(hmac_opad)s)" for c in hashed])
    return f"""insert into {contract.raw_table} ({cols}, _extra, _file_id, _source_file, _source_row, _as_of)
select {vals}, c._extra::jsonb, %(file_id)s, %(file_name)s, c._row, %(as_of)s
from _typed c
where not exists (select 1 from _errors e where e._row = c._row)"""
