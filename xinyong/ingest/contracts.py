"""Feed contracts: one YAML file per department feed in `connectors/`.

A contract is the single declaration of a feed: headers and their variants, types,
required and required-when rules, enumerations, key, personal columns. Everything the
ingest needs (raw table DDL, header mapping, the validating SQL) is derived from it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from xinyong.runtime.config import PROJECT_ROOT

CONTRACTS_DIR = PROJECT_ROOT / "connectors"

# Types whose values are codes: kept as text, upper-cased, full-width folded, and a
# numeric XLSX cell in them is an error rather than something to convert.
CODE_TYPES = {"code", "uscc", "ric"}
SQL_TYPES = {
    "text": "text", "code": "text", "uscc": "text", "ric": "text", "enum": "text",
    "enum_set": "text", "date": "date", "datetime": "timestamp", "amount": "numeric",
    "integer": "bigint", "year": "integer",
}
TYPE_LABELS = {
    "date": "日期格式无法识别（应为 YYYY-MM-DD、YYYY/M/D、YYYYMMDD 或 YYYY年M月D日）",
    "datetime": "时间格式无法识别（应为日期加 HH:MM 或 HH:MM:SS）",
    "amount": "金额不是有效数字",
    "integer": "不是有效整数",
    "year": "年度应为四位年份",
}


class ContractError(ValueError):
    pass


@dataclass(frozen=True)
class Column:
    name: str
    header: str
    type: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    personal: str | None = None       # name | id | address
    personal_when: str | None = None  # SQL condition; None = always personal

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]

    @property
    def is_code(self) -> bool:
        return self.type in CODE_TYPES


@dataclass(frozen=True)
class Check:
    column: str
    fail_if: str
    reason: str


@dataclass(frozen=True)
class Contract:
    feed: str
    title: str
    department: str
    cadence_days: int
    reject_threshold: float
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    checks: tuple[Check, ...] = field(default=())

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


def _column(spec: dict, feed: str) -> Column:
    if spec.get("type") not in SQL_TYPES:
        raise ContractError(f"{feed}.{spec.get('name')}: unknown type {spec.get('type')!r}")
    return Column(
        name=spec["name"], header=spec["header"], type=spec["type"],
        required=bool(spec.get("required", False)), aliases=tuple(spec.get("aliases", ())),
        values=tuple(str(v) for v in spec.get("values", ())), min=spec.get("min"),
        max=spec.get("max"), personal=spec.get("personal"),
        personal_when=spec.get("personal_when"),
    )


def parse(data: dict) -> Contract:
    feed = data["feed"]
    columns = tuple(_column(c, feed) for c in data["columns"])
    names = {c.name for c in columns}
    checks = tuple(Check(**c) for c in data.get("checks", ()))
    for ref in [*data["key"], *(c.column for c in checks)]:
        if ref not in names:
            raise ContractError(f"{feed}: {ref!r} is not a column")
    for column in columns:
        if column.name in data["key"] and not column.required:  # a record is found by its whole key
            raise ContractError(f"{feed}: key column {column.name!r} must be required")
    return Contract(
        feed=feed, title=data["title"], department=data["department"],
        cadence_days=int(data["cadence_days"]), reject_threshold=float(data["reject_threshold"]),
        key=tuple(data["key"]), columns=columns, checks=checks,
    )


@cache
def load_all(directory: Path = CONTRACTS_DIR) -> dict[str, Contract]:
    contracts = {}
    for path in sorted(directory.glob("*.yml")):
        contract = parse(yaml.safe_load(path.read_text(encoding="utf-8")))
        if contract.feed != path.stem:
            raise ContractError(f"{path.name}: feed {contract.feed!r} does not match the file name")
        contracts[contract.feed] = contract
    return contracts


def load(feed: str) -> Contract:
    try:
        return load_all()[feed]
    except KeyError:
        raise ContractError(f"no contract for feed {feed!r} in {CONTRACTS_DIR}") from None
