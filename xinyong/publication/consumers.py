"""The downstream consumers, declared once: dbt exposures with `meta` in
`dbt_project/models/exposures.yml`.

Each exposure is one consumer: `depends_on` names the published tables it reads and
`config.meta` says with which database role, which rows and columns of each table, and how
it receives them (`grants`, `outbox` files, `api`: the credit query API runs as its role). The declaration is validated on
load with pydantic against the published models (the folder `models/marts/publish/`, whose
columns their enforced contracts fix in YAML): an unknown key, a table that is not a
published model, a column that does not exist or a row filter naming one fails with the
file, the line and what is wrong.

Derived from it: the roles, grants, column privileges and row-level security (`roles`),
the outbox extracts (`outbox`) and the README's readers block (`readers_table()`, between
`<!-- consumers:start -->` and `<!-- consumers:end -->`; a unit test compares them).
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from xinyong.runtime.config import PROJECT_ROOT

DBT_PROJECT = PROJECT_ROOT / "dbt_project"
DECLARATION = Path("models") / "exposures.yml"
PUBLISHED_MODELS = Path("models") / "marts" / "publish"
# Where a consumer that receives `outbox` finds a publication, under the outbox root.
OUTBOX_FOLDER = "{consumer}/publication_{publication_id}"
ALL_ROWS = "true"

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_REF = re.compile(r"""^\s*ref\(\s*['"]([A-Za-z0-9_]+)['"]\s*\)\s*$""")


class DeclarationError(ValueError):
    """The consumer declaration is wrong: file, line, consumer and what is wrong."""


def _wrong(at: tuple[str, ...], problem: str) -> PydanticCustomError:
    """A validation error that names the key it is about (below the model raising it)."""
    return PydanticCustomError("declaration", "{problem}", {"problem": problem, "at": at})


# --- the declaration's shape (dbt exposure keys, and our `meta`) -------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TableAccess(_Strict):
    """What a consumer sees of one table: `rows` (SQL over its columns) minus `hidden_columns`."""

    rows: str = ALL_ROWS
    hidden_columns: tuple[str, ...] = ()

    @field_validator("rows")
    @classmethod
    def _one_expression(cls, value: str) -> str:
        if not value.strip() or ";" in value or "--" in value or "/*" in value:
            raise ValueError("a row filter is one SQL boolean expression (no ';' or comments)")
        return value.strip()


class Meta(_Strict):
    role: str | None = None
    receives: tuple[Literal["grants", "outbox", "api"], ...] = Field(min_length=1)
    tables: dict[str, TableAccess] = {}

    @field_validator("role")
    @classmethod
    def _role_is_identifier(cls, value: str | None) -> str | None:
        if value is not None and not _IDENTIFIER.match(value):
            raise ValueError(f"role {value!r} is not a plain lower-case SQL identifier")
        return value

    @model_validator(mode="after")
    def _grants_need_a_role(self) -> Meta:
        if "grants" in self.receives and not self.role:
            raise ValueError("a consumer that receives `grants` needs a `role`")
        if len(set(self.receives)) != len(self.receives):
            raise ValueError("`receives` names a way twice")
        return self


class ExposureConfig(_Strict):
    meta: Meta
    enabled: bool = True
    tags: tuple[str, ...] = ()


class Exposure(_Strict):
    name: str
    label: str
    type: Literal["dashboard", "notebook", "analysis", "ml", "application"]
    maturity: Literal["low", "medium", "high"] | None = None
    description: str
    owner: dict[str, str]
    url: str | None = None
    tags: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = Field(min_length=1)
    config: ExposureConfig

    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError(
                f"consumer name {value!r} is not a plain lower-case identifier (it names a folder)"
            )
        return value

    @field_validator("depends_on")
    @classmethod
    def _published_refs(cls, refs: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        published = info.context["published"]
        tables = []
        for ref in refs:
            match = _REF.match(ref)
            if not match:
                raise ValueError(f"{ref!r}: a consumer reads published models, written ref('<model>')")
            if match.group(1) not in published:
                raise ValueError(
                    f"{match.group(1)!r} is not a published model (published: {', '.join(sorted(published))})"
                )
            tables.append(match.group(1))
        if len(set(tables)) != len(tables):
            raise ValueError("a table is named twice")
        return tuple(tables)

    @model_validator(mode="after")
    def _tables_and_columns_exist(self, info: ValidationInfo) -> Exposure:
        published = info.context["published"]
        for table, access in self.config.meta.tables.items():
            at = ("config", "meta", "tables", table)
            if table not in self.depends_on:
                raise _wrong(at, f"{table} is not in depends_on")
            columns = published[table]
            for column in access.hidden_columns:
                if column not in columns:
                    raise _wrong(
                        at + ("hidden_columns",),
                        f"{column!r} is not a column of {table} (columns: {', '.join(columns)})",
                    )
            if set(columns) <= set(access.hidden_columns):
                raise _wrong(at + ("hidden_columns",), "every column hidden; leave the table out instead")
            try:
                unknown = [n for n in filter_names(access.rows) if n not in columns]
            except ValueError as exc:
                raise _wrong(at + ("rows",), str(exc)) from None
            if unknown:
                raise _wrong(
                    at + ("rows",),
                    f"{', '.join(map(repr, unknown))} is not a column of {table}; "
                    "a row filter reads only its own table's columns",
                )
        return self


class Declaration(_Strict):
    version: Literal[2]
    exposures: tuple[Exposure, ...]


# --- what the rest of the platform uses ------------------------------------------------


@dataclass(frozen=True)
class Consumer:
    name: str
    label: str
    description: str
    role: str | None
    receives: tuple[str, ...]
    tables: dict[str, TableAccess]  # every table it reads, in declaration order

    @property
    def grants(self) -> bool:
        return "grants" in self.receives

    @property
    def outbox(self) -> bool:
        return "outbox" in self.receives

    @property
    def api(self) -> bool:
        return "api" in self.receives


# Words of SQL that are not column names (a row filter is a plain boolean expression).
_SQL_WORDS = {
    "and",
    "or",
    "not",
    "is",
    "null",
    "true",
    "false",
    "in",
    "like",
    "ilike",
    "similar",
    "to",
    "escape",
    "between",
    "symmetric",
    "distinct",
    "from",
    "case",
    "when",
    "then",
    "else",
    "end",
    "any",
    "all",
    "some",
    "unknown",
    "current_date",
    "current_timestamp",
    "localtimestamp",
    "date",
    "timestamp",
    "interval",
    "time",
    "integer",
    "numeric",
    "text",
    "boolean",
    "bigint",
}


def filter_names(sql: str) -> list[str]:
    """The column names a row filter reads (string literals, casts, functions and SQL words aside)."""
    text = re.sub(r"'(?:[^']|'')*'", " ", sql)
    if re.search(r"\bselect\b", text, re.IGNORECASE):
        raise ValueError("a row filter reads only its own table's columns (no subqueries)")
    text = re.sub(r"::\s*[A-Za-z_][A-Za-z0-9_ ]*(\([^)]*\))?", " ", text)
    names = []
    for match in re.finditer(r'"([^"]+)"|\b([A-Za-z_][A-Za-z0-9_]*)\b(\s*\()?', text):
        quoted, word, call = match.groups()
        name = quoted or (word.lower() if word and not call and word.lower() not in _SQL_WORDS else None)
        if name and name not in names:
            names.append(name)
    return names


def published_models(project: Path = DBT_PROJECT) -> dict[str, list[str]]:
    """The published models and their columns, from the YAML beside their SQL."""
    folder = project / PUBLISHED_MODELS
    sql = {path.stem for path in folder.rglob("*.sql")}
    columns: dict[str, list[str]] = {}
    for path in sorted(folder.rglob("*.yml")):
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models") or []:
            columns[model["name"]] = [c["name"] for c in model.get("columns") or []]
    missing = sorted(name for name in sql if not columns.get(name))
    if missing:
        raise DeclarationError(f"{folder}: published models without declared columns: {', '.join(missing)}")
    return {name: columns[name] for name in sorted(sql)}


def _line(node, loc: tuple) -> int:
    """The line of the YAML node at a pydantic error location (the deepest one that exists)."""
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            found = [v for k, v in node.value if k.value == key] or [
                k for k, _ in node.value if k.value == key
            ]
            if not found:
                break
            node = found[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
    return node.start_mark.line + 1


def load(project: Path = DBT_PROJECT) -> tuple[Consumer, ...]:
    """Every enabled consumer of the declaration, validated; raises DeclarationError."""
    path = project / DECLARATION
    text = path.read_text(encoding="utf-8")
    published = published_models(project)
    try:
        declaration = Declaration.model_validate(yaml.safe_load(text), context={"published": published})
    except ValidationError as exc:
        root = yaml.compose(text)
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"]) + tuple((error.get("ctx") or {}).get("at", ()))
            where = f"{path}, line {_line(root, loc)}"
            if len(loc) >= 2 and loc[0] == "exposures" and isinstance(loc[1], int):
                try:
                    where += f", consumer {yaml.safe_load(text)['exposures'][loc[1]]['name']}"
                except (KeyError, IndexError, TypeError):
                    pass
                loc = loc[2:]
            what = ".".join(str(part) for part in loc)
            message = (
                "unknown key"
                if error["type"] == "extra_forbidden"
                else error["msg"].removeprefix("Value error, ")
            )
            problems.append(f"{where}: {what + ': ' if what else ''}{message}")
        raise DeclarationError("\n".join(problems)) from None
    consumers = []
    for exposure in declaration.exposures:
        if not exposure.config.enabled:
            continue
        meta = exposure.config.meta
        consumers.append(
            Consumer(
                name=exposure.name,
                label=exposure.label,
                description=" ".join(exposure.description.split()),
                role=meta.role,
                receives=meta.receives,
                tables={table: meta.tables.get(table, TableAccess()) for table in exposure.depends_on},
            )
        )
    for attribute in ("name", "role"):
        values = [getattr(c, attribute) for c in consumers if getattr(c, attribute)]
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise DeclarationError(f"{path}: two consumers share the {attribute} {', '.join(twice)}")
    return tuple(consumers)


def roles(consumers: tuple[Consumer, ...]) -> list[str]:
    return [c.role for c in consumers if c.role]


def readers_table(consumers: tuple[Consumer, ...] | None = None) -> str:
    """The README's readers block: who reads which tables, which rows and columns, how."""
    consumers = load() if consumers is None else consumers

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    intro = (
        f"Readers, derived from the consumer declaration `dbt_project/{DECLARATION.as_posix()}` "
        "(grants, column privileges and row-level security are re-applied inside the swap "
        "transaction; no role reads `raw`, `audit`, `staging`, `intermediate`, `policy` or a "
        "publication that is not live):"
    )
    lines = [
        textwrap.fill(intro, width=90, break_on_hyphens=False),
        "",
        "| consumer | role | receives | tables (rows it sees; hidden columns) |",
        "|---|---|---|---|",
    ]
    for consumer in consumers:
        reads = []
        for table, access in consumer.tables.items():
            notes = ([f"rows `{cell(access.rows)}`"] if access.rows != ALL_ROWS else []) + (
                [f"hidden {', '.join(f'`{c}`' for c in access.hidden_columns)}"]
                if access.hidden_columns
                else []
            )
            reads.append(f"`{table}`" + (f" ({'; '.join(notes)})" if notes else ""))
        receives = [
            f"outbox `{OUTBOX_FOLDER.format(consumer=consumer.name, publication_id='<id>')}/`"
            if way == "outbox"
            else way
            for way in consumer.receives
        ]
        lines.append(
            f"| {consumer.label} (`{consumer.name}`) | {f'`{consumer.role}`' if consumer.role else '–'} "
            f"| {', '.join(receives)} | {', '.join(reads)} |"
        )
    notes = [f"{consumer.label}: {consumer.description}" for consumer in consumers]
    notes.append(
        "Outbox (`XINYONG_OUTBOX`, default `.xinyong/outbox`): for each consumer that receives "
        f"`outbox`, `{OUTBOX_FOLDER.format(consumer='<consumer>', publication_id='<id>')}/` with exactly "
        "the rows and columns it is declared to read, as Parquet and CSV, plus `manifest.json` "
        "(publication id, schema version, row counts, SHA-256 per file); written as a hidden "
        "temp folder, then renamed."
    )
    lines.append("")
    lines += [
        textwrap.fill(note, width=90, initial_indent="- ", subsequent_indent="  ", break_on_hyphens=False)
        for note in notes
    ]
    return "\n".join(lines)
