"""The district's administrative agencies: who decides penalties, who publishes and repairs."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True)
class Agency:
    name: str
    uscc: str
    doc_prefix: str  # 行政处罚决定书文号 prefix, e.g. 渝长市监罚 in 渝长市监罚〔2026〕12号
    domains: tuple[str, ...] = ()  # the supervision domains its penalties and commitments belong to


# Names and codes come from the departments seed (the platform's one declaration of who the
# district's departments are), so penalties and commitments name the departments it routes to.
_SEED = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds" / "departments.csv"


@cache
def _departments() -> dict[str, dict[str, str]]:
    with _SEED.open(encoding="utf-8", newline="") as fh:
        return {row["department_code"]: row for row in csv.DictReader(fh)}


def _agency(department_code: str, doc_prefix: str) -> Agency:
    row = _departments()[department_code]
    return Agency(row["name"], row["uscc"], doc_prefix, tuple(d for d in row["domains"].split("|") if d))


def recipient(department_code: str) -> Agency:
    """Any recipient of the seed (a department or an association), e.g. to accept commitments."""
    return _agency(department_code, "")


AGENCIES = {
    "market": _agency("market", "渝长市监罚"),
    "environment": _agency("environment", "渝长环罚"),
    "transport": _agency("transport", "渝长交罚"),
    "urban": _agency("urban", "渝长城管罚"),
    "emergency": _agency("emergency", "渝长应急罚"),
    "fire": _agency("fire", "长消行罚决字"),
    "police": _agency("police", "长公（治）行罚决字"),
    "health": _agency("health", "长卫医罚"),
    "agriculture": _agency("agriculture", "渝长农罚"),
    "culture": _agency("culture", "渝长文旅罚"),
    "labour": _agency("labour", "渝长人社罚"),
    "tax": _agency("tax", "长税罚"),
}
# The district credit office: publishes penalties (数据来源单位) and decides repairs.
CREDIT_OFFICE = _agency("credit_office", "")


def supervisor(domain: str) -> Agency:
    """The department of the seed that supervises `domain` (every domain has exactly one)."""
    for code, row in _departments().items():
        if domain in row["domains"].split("|"):
            return _agency(code, "")
    raise KeyError(f"no department supervises {domain!r} in {_SEED}")
