"""Feed contracts: one YAML file per department feed in `connectors/`.

A contract is the single declaration of a feed: headers and their variants, types,
required and required-when rules, enumerations, key, personal columns. Everything the
ingest needs (raw table DDL, header mapping, the validating SQL) is derived from it.

Contracts are validated strictly when they load (pydantic models, no unknown key): a
misspelt `personl: id` would otherwise be ignored and the column would go through
unhashed. A problem is reported with the file, the line and one sentence. `table_schema`
exports a contract as a Frictionless Table Schema, so a department can check a file
before sending it.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from xinyong.runtime.config import PROJECT_ROOT

CONTRACTS_DIR = PROJECT_ROOT / "connectors"
# libyaml's loader where PyYAML was built with it (its wheels are): the same documents and
# marks, ten times faster. Every Airflow task parses its DAG file, which reads every contract.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Types whose values are codes: kept as text, upper-cased, full-width folded, and a
# numeric XLSX cell in them is an error rather than something to convert.
CODE_TYPES = {"code", "uscc", "ric"}
SQL_TYPES = {
    "text": "text",
    "code": "text",
    "uscc": "text",
    "ric": "text",
    "enum": "text",
    "enum_set": "text",
    "date": "date",
    "datetime": "timestamp",
    "amount": "numeric",
    "integer": "bigint",
    "year": "integer",
}
NUMERIC_TYPES = {"amount", "integer", "year"}
ENUM_TYPES = {"enum", "enum_set"}
TYPE_LABELS = {
    "date": "日期格式无法识别（应为 YYYY-MM-DD、YYYY/M/D、YYYYMMDD 或 YYYY年M月D日）",
    "datetime": "时间格式无法识别（应为日期加 HH:MM 或 HH:MM:SS）",
    "amount": "金额不是有效数字",
    "integer": "不是有效整数",
    "year": "年度应为四位年份",
}
# `{col}` (typed value) or `{col.text}` (cleaned text) in fail_if and personal_when.
PLACEHOLDER = re.compile(r"\{(\w+)(\.text)?\}")

ColumnType = Literal[tuple(SQL_TYPES)]  # the type names are SQL_TYPES' keys, declared once
PersonalKind = Literal["name", "id", "address"]


class ContractError(ValueError):
    pass


class _Problem(ValueError):
    """A cross-field problem found by a validator, with the place in the document it is about."""

    def __init__(self, loc: tuple, message: str):
        super().__init__(message)
        self.loc, self.message = loc, message


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Column(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    header: str = Field(min_length=1)
    type: ColumnType
    required: bool = False
    aliases: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    personal: PersonalKind | None = None
    personal_when: str | None = None  # SQL condition; None = always personal

    @field_validator("values", mode="before")
    @classmethod
    def _values_are_text(cls, values: Any) -> Any:
        # YAML reads `values: [1, 2]` as numbers; the file's cells are text.
        return [str(v) for v in values] if isinstance(values, list) else values

    @model_validator(mode="after")
    def _consistent(self) -> Column:
        if self.personal_when and not self.personal:
            raise _Problem(("personal_when",), "personal_when is set but personal is not")
        if self.type in ENUM_TYPES and not self.values:
            raise _Problem(("type",), f"type {self.type} needs values")
        if self.values and self.type not in ENUM_TYPES:
            raise _Problem(("values",), f"values are only for enum and enum_set, not {self.type}")
        for bound in ("min", "max"):
            if getattr(self, bound) is not None and self.type not in NUMERIC_TYPES:
                raise _Problem(
                    (bound,), f"{bound} is only for {', '.join(sorted(NUMERIC_TYPES))}, not {self.type}"
                )
        return self

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]

    @property
    def is_code(self) -> bool:
        return self.type in CODE_TYPES


class Check(_Strict):
    column: str
    fail_if: str = Field(min_length=1)
    reason: str = Field(min_length=1)


class Limits(_Strict):
    """How much one file of the feed may make the platform read. Past any of them the file is
    refused with a reason, before or while it is read, never after reading it whole."""

    max_file_mb: float = Field(200, gt=0)  # checked on the file's size, before it is opened
    max_xlsx_expanded_mb: float = Field(256, gt=0)  # an XLSX's parts, uncompressed, before parsing
    max_columns: int = Field(300, gt=0)  # on the header, before a landing table is made
    max_rows: int = Field(1_000_000, gt=0)  # data lines (CSV) or rows (XLSX) after the header
    max_cell_chars: int = Field(4000, gt=0)  # characters in one cell

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 2**20)

    @property
    def max_xlsx_expanded_bytes(self) -> int:
        return int(self.max_xlsx_expanded_mb * 2**20)

    @property
    def max_line_bytes(self) -> int:
        """The longest line a CSV within the other limits can have: every cell at its longest
        (4 bytes a character in UTF-8 and GB18030, quotes doubled) with its separator."""
        return self.max_columns * (4 * self.max_cell_chars + 3)


class Contract(_Strict):
    feed: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1)
    cadence_days: int = Field(gt=0)
    reject_threshold: float = Field(ge=0, le=1)
    key: tuple[str, ...] = Field(min_length=1)
    columns: tuple[Column, ...] = Field(min_length=1)
    checks: tuple[Check, ...] = ()
    limits: Limits = Limits()

    @model_validator(mode="after")
    def _references_are_columns(self) -> Contract:
        names = [c.name for c in self.columns]
        seen: dict[str, int] = {}  # normalised header or alias -> index of the column using it
        for i, col in enumerate(self.columns):
            if col.name in names[:i]:
                raise _Problem(
                    ("columns", i, "name"),
                    f"column name {col.name!r} is already used by columns[{names.index(col.name)}]",
                )
            for j, header in enumerate((col.header, *col.aliases)):
                other = seen.setdefault(normalise_header(header), i)
                if other != i or normalise_header(header) in map(
                    normalise_header, (col.header, *col.aliases)[:j]
                ):
                    where = ("columns", i, "header") if j == 0 else ("columns", i, "aliases", j - 1)
                    raise _Problem(
                        where,
                        f"header {header!r} is already used by columns[{other}] ({self.columns[other].name})",
                    )
            if col.personal_when:
                for ref, _ in PLACEHOLDER.findall(col.personal_when):
                    if ref not in names:
                        raise _Problem(
                            ("columns", i, "personal_when"),
                            f"personal_when names {{{ref}}}, which is not a column",
                        )
        for i, ref in enumerate(self.key):
            if ref not in names:
                raise _Problem(("key", i), f"key column {ref!r} is not a column")
            if not self.column(ref).required:
                # a row without its key could not be told apart from the file's other rows
                raise _Problem(("key", i), f"key column {ref!r} must be required: true")
        for i, check in enumerate(self.checks):
            if check.column not in names:
                raise _Problem(("checks", i, "column"), f"column {check.column!r} is not a column")
            for ref, _ in PLACEHOLDER.findall(check.fail_if):
                if ref not in names:
                    raise _Problem(
                        ("checks", i, "fail_if"), f"fail_if names {{{ref}}}, which is not a column"
                    )
        return self

    @property
    def raw_table(self) -> str:
        return f"raw.{self.feed}"

    @property
    def personal_ids(self) -> list[str]:
        """Columns holding personal ID numbers: they get a keyed hash in raw.personal_id_digests."""
        return [c.name for c in self.columns if c.personal == "id"]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def file_pattern(self) -> re.Pattern:
        return re.compile(rf"^{re.escape(self.feed)}_(\d{{8}})(?:_(\d+))?\.(csv|xlsx)$", re.I)


def normalise_header(text: str) -> str:
    """Headers compare equal regardless of bracket width and surrounding white space."""
    text = str(text).strip().strip("\u3000").strip()
    return text.replace("（", "(").replace("）", ")").replace(" ", "").replace("\u3000", "")


# ---------------------------------------------------------------- loading and errors

_MODEL_AT = {0: Contract, 2: Column}  # depth of a mapping's loc -> its model (checks: below)


def _model_at(loc: tuple) -> type[BaseModel]:
    if len(loc) == 2 and loc[0] == "checks":
        return Check
    if loc == ("limits",):
        return Limits
    return _MODEL_AT.get(len(loc), Contract)


def _node_line(root: yaml.Node | None, loc: tuple) -> int | None:
    """Line (1-based) of the deepest YAML node `loc` reaches; a key's own line for a mapping entry."""
    node, line = root, root.start_mark.line + 1 if root is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            hit = next(((k, v) for k, v in node.value if k.value == part), None)
            if hit is None:
                break
            line, node = hit[0].start_mark.line + 1, hit[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _place(data: Any, loc: tuple) -> str:
    """`columns[3] (tax_grade).personal` for ('columns', 3, 'personal')."""
    out, node = "", data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("name"), str):
                out += f" ({node['name']})"
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


def _describe(error: dict, data: Any) -> tuple[tuple, str]:
    loc = tuple(error["loc"])
    problem = error.get("ctx", {}).get("error")
    if isinstance(problem, _Problem):
        loc = loc + problem.loc
        return loc, f"{_place(data, loc)}: {problem.message}"
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(_model_at(loc[:-1]).model_fields)
        where = _place(data, loc[:-1])
        return loc, f"{where + ': ' if where else ''}unknown key {loc[-1]!r} (allowed: {allowed})"
    if error["type"] == "missing":
        where = _place(data, loc[:-1])
        return loc, f"{where + ': ' if where else ''}missing key {loc[-1]!r}"
    return loc, f"{_place(data, loc) or 'contract'}: {error['msg'].rstrip('.')}, not {error['input']!r}"


def _duplicate_keys(node: yaml.Node | None, path: tuple = ()) -> tuple[tuple, str] | None:
    """yaml.safe_load keeps the last of two equal keys silently; a contract must not have any."""
    if isinstance(node, yaml.MappingNode):
        keys = [k.value for k, _ in node.value]
        for k, v in node.value:
            if keys.count(k.value) > 1:
                return path + (k.value,), f"key {k.value!r} appears twice"
            found = _duplicate_keys(v, path + (k.value,))
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found = _duplicate_keys(item, path + (i,))
            if found:
                return found
    return None


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def parse(data: dict, source: str = "contract", root: yaml.Node | None = None) -> Contract:
    """A validated contract; `root` (the composed YAML document) gives the error its line."""

    def fail(loc: tuple, message: str) -> ContractError:
        line = _node_line(root, loc)
        return ContractError(f"{source}{f', line {line}' if line else ''}: {message}")

    if not isinstance(data, dict):
        raise fail((), "a contract is a YAML mapping (feed, title, cadence_days, ...)")
    try:
        return Contract.model_validate(data)
    except ValidationError as exc:
        raise fail(*_describe(exc.errors()[0], data)) from None


def load_file(path: Path) -> Contract:
    text = path.read_text(encoding="utf-8")
    source = display_path(path)
    # parsed once: the document's nodes give the lines, the data is constructed from them
    loader = YAML_LOADER(text)
    try:
        root = loader.get_single_node()
        data = None if root is None else loader.construct_document(root)
    except yaml.YAMLError as exc:
        line = exc.problem_mark.line + 1 if getattr(exc, "problem_mark", None) else None
        raise ContractError(
            f"{source}{f', line {line}' if line else ''}: not valid YAML "
            f"({getattr(exc, 'problem', None) or exc})"
        ) from None
    finally:
        loader.dispose()
    duplicate = _duplicate_keys(root)
    if duplicate:
        loc, message = duplicate
        raise ContractError(f"{source}, line {_node_line(root, loc)}: {_place(data, loc)}: {message}")
    contract = parse(data, source, root)
    if contract.feed != path.stem:
        raise ContractError(
            f"{source}, line {_node_line(root, ('feed',))}: feed {contract.feed!r} "
            f"does not match the file name {path.name!r}"
        )
    return contract


@cache
def load_all(directory: Path = CONTRACTS_DIR) -> dict[str, Contract]:
    return {path.stem: load_file(path) for path in sorted(directory.glob("*.yml"))}


def load(feed: str) -> Contract:
    try:
        return load_all()[feed]
    except KeyError:
        raise ContractError(f"no contract for feed {feed!r} in {CONTRACTS_DIR}") from None


# ---------------------------------------------------------------- Frictionless Table Schema

TABLE_SCHEMA_TYPES = {
    "text": "string",
    "code": "string",
    "uscc": "string",
    "ric": "string",
    "enum": "string",
    "enum_set": "string",
    "date": "date",
    "datetime": "datetime",
    "amount": "number",
    "integer": "integer",
    "year": "year",
}
# Shape only: the check character itself (ISO 7064 / GB 11643) is beyond a pattern.
TABLE_SCHEMA_PATTERNS = {
    "uscc": "[0-9A-HJ-NPQRTUWXY]{18}",
    "ric": "[0-9]{17}[0-9X]",
}


def table_schema(contract: Contract) -> dict:
    """The contract as a Frictionless Table Schema (https://specs.frictionlessdata.io/table-schema/).

    Field names are the Chinese headers a department writes. Looser than the ingest where the
    standard cannot say what the contract says (check characters, cross-field checks, personal
    data); dates and date-times take the `any` format, so `2026/3/5` and `20260305` pass as the
    ingest accepts them (the `2026年3月5日` form is beyond the standard's parser).
    """
    fields = []
    for col in contract.columns:
        field: dict[str, Any] = {
            "name": col.header,
            "type": TABLE_SCHEMA_TYPES[col.type],
            "description": col.name,
        }
        if col.type in ("date", "datetime"):
            field["format"] = "any"
        if col.type == "amount":
            field["groupChar"] = ","
        constraints: dict[str, Any] = {}
        if col.required:
            constraints["required"] = True
        if col.type == "enum":
            constraints["enum"] = list(col.values)
        if col.type == "enum_set":  # one or more values separated by ; or ；
            one = "(" + "|".join(re.escape(v) for v in col.values) + ")"
            constraints["pattern"] = f"{one}(\\s*[;；]\\s*{one})*"
        if col.type in TABLE_SCHEMA_PATTERNS:
            constraints["pattern"] = TABLE_SCHEMA_PATTERNS[col.type]
        if col.min is not None:
            constraints["minimum"] = int(col.min) if col.type != "amount" else col.min
        if col.max is not None:
            constraints["maximum"] = int(col.max) if col.type != "amount" else col.max
        if constraints:
            field["constraints"] = constraints
        fields.append(field)
    return {
        "fields": fields,
        "primaryKey": [contract.column(name).header for name in contract.key],
        "missingValues": [""],
    }
