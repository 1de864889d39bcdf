"""The district's departments and other recipients, declared once in a dbt seed.

`dbt_project/seeds/departments.csv` has one row per department (and per other recipient,
such as the credit office): its USCC, name, the supervision domains it covers, the feeds
it sends and where its reports go. Department reports, and later commitment lists,
warnings and objections, route by it; contracts do not name their department.

Loading validates every row and fails, naming the seed's line, when a feed with a contract
has no sending department or two, or when the seed names a feed that has no contract.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator
from stdnum.cn import uscc as uscc_code

from xinyong.ingest import contracts
from xinyong.runtime import config
from xinyong.runtime.config import PROJECT_ROOT

SEED = PROJECT_ROOT / "dbt_project" / "seeds" / "departments.csv"


class DepartmentError(ValueError):
    pass


class Department(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    department_code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    uscc: str
    name: str = Field(min_length=1)
    domains: tuple[str, ...] = ()  # supervision domains, e.g. 市场监管
    feeds: tuple[str, ...] = ()  # feeds it sends (connectors/<feed>.yml)
    outbox_folder: str = Field(min_length=1)  # relative: under XINYONG_HOME/reports; or absolute
    email: EmailStr

    @field_validator("domains", "feeds", mode="before")
    @classmethod
    def _split(cls, text: Any) -> Any:
        return (
            tuple(part.strip() for part in text.split("|") if part.strip()) if isinstance(text, str) else text
        )

    @field_validator("uscc")
    @classmethod
    def _uscc_is_valid(cls, code: str) -> str:
        if not uscc_code.is_valid(code):
            raise ValueError(
                f"{code!r} is not a valid 统一社会信用代码 (18 characters, check character last)"
            )
        return code

    @field_validator("outbox_folder")
    @classmethod
    def _stays_inside(cls, folder: str) -> str:
        if ".." in PurePosixPath(folder).parts:
            raise ValueError(f"{folder!r} must not climb out with '..'")
        return folder

    def outbox(self, settings: config.Settings) -> Path:
        """The folder the department's reports go to (an absolute outbox_folder is taken as is)."""
        return settings.reports / self.outbox_folder


def _fail(path: Path, line: int | None, message: str) -> DepartmentError:
    return DepartmentError(f"{contracts.display_path(path)}{f', line {line}' if line else ''}: {message}")


@cache
def load(path: Path = SEED, contracts_dir: Path = contracts.CONTRACTS_DIR) -> tuple[Department, ...]:
    rows: list[tuple[int, Department]] = []
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        for record in reader:
            line = reader.line_num
            if None in record:
                raise _fail(path, line, "more cells than the header has columns")
            try:
                rows.append((line, Department.model_validate(record)))
            except ValidationError as exc:
                err = exc.errors()[0]
                field = ".".join(map(str, err["loc"]))
                who = record.get("department_code") or "?"
                what = f"unknown column {field!r}" if err["type"] == "extra_forbidden" else err["msg"]
                raise _fail(path, line, f"{who}: {field}: {what}") from None
    for field in ("department_code", "uscc", "outbox_folder"):
        seen: dict[str, int] = {}
        for line, dept in rows:
            value = getattr(dept, field)
            if value in seen:
                raise _fail(
                    path, line, f"{dept.department_code}: {field} {value!r} is already on line {seen[value]}"
                )
            seen[value] = line
    feeds = contracts.load_all(contracts_dir)
    senders: dict[str, list[str]] = {feed: [] for feed in feeds}
    for line, dept in rows:
        for feed in dept.feeds:
            if feed not in senders:
                raise _fail(
                    path,
                    line,
                    f"{dept.department_code}: feed {feed!r} has no contract in "
                    f"{contracts.display_path(contracts_dir)}",
                )
            senders[feed].append(dept.department_code)
    for feed, codes in senders.items():
        if len(codes) != 1:
            who = "no department" if not codes else f"{len(codes)} departments ({', '.join(codes)})"
            raise _fail(path, None, f"feed {feed!r} is sent by {who}; exactly one row must list it in feeds")
    return tuple(dept for _, dept in rows)


def recipients() -> tuple[Department, ...]:
    """Every department and other recipient of the district, in the seed's order."""
    return load()


def sender(feed: str) -> Department:
    """The one department that sends `feed` (load() guarantees there is exactly one)."""
    for dept in load():
        if feed in dept.feeds:
            return dept
    raise DepartmentError(f"no department sends feed {feed!r} (see {contracts.display_path(SEED)})")
