"""The dbt sources of the feeds, generated from their contracts (`connectors/<feed>.yml`).

One sources YAML for all feeds: source and table named for the feed in schema `raw`, the
contract's title and department as description, every column with its Chinese header,
`_loaded_at` freshness from `cadence_days`, and in `meta` what the staging models and
tests read at run time (macros `contract_key`, `with_id_digests`, test
`unique_contract_key`): the contract's key, that key as staging sees it (a personal ID
column by its keyed hash, `<column>_hash`), and the personal ID columns. The file is
gitignored and rewritten before every dbt invocation of xinyong; run
`python -m xinyong.publication.dbt_sources` before a bare `dbt` command.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from xinyong.ingest import contracts, departments

SOURCES_FILE = Path("models") / "staging" / "_contracts__sources.yml"
HEADER = (
    "# Generated from connectors/*.yml by xinyong/publication/dbt_sources.py "
    "(python -m xinyong.publication.dbt_sources); do not edit.\n"
)


def hashed(column: str) -> str:
    """The staging name of a personal ID column: its keyed hash (macro with_id_digests)."""
    return f"{column}_hash"


def staging_key(contract: contracts.Contract) -> list[str]:
    """The contract's key as staging sees it: a personal ID column by its keyed hash."""
    personal = set(contract.personal_ids)
    return [hashed(name) if name in personal else name for name in contract.key]


def source(contract: contracts.Contract) -> dict:
    """The dbt source of one feed."""
    headers = " + ".join(contract.column(name).header for name in contract.key)
    description = f"每个被接收文件的每个有效行，一行一个版本（`_as_of` 为文件的数据日期）；键为{headers}。"
    if contract.personal_ids:
        description += (
            "个人证件号码（"
            + "、".join(contract.personal_ids)
            + "）只在 raw 中，下游使用其键控哈希（"
            + "、".join(hashed(name) for name in contract.personal_ids)
            + "）。"
        )
    return {
        "name": contract.feed,
        "description": f"{contract.title}。报送单位：{departments.sender(contract.feed).name}",
        "schema": "raw",
        "tables": [
            {
                "name": contract.feed,
                "description": description,
                "config": {
                    "loaded_at_field": "_loaded_at",
                    "freshness": {"warn_after": {"count": contract.cadence_days, "period": "day"}},
                    "meta": {
                        "contract_key": list(contract.key),
                        "staging_key": staging_key(contract),
                        "personal_id_columns": list(contract.personal_ids),
                    },
                },
                "columns": [{"name": c.name, "description": c.header} for c in contract.columns],
            }
        ],
    }


def render(all_contracts: dict[str, contracts.Contract]) -> str:
    body = {"version": 2, "sources": [source(c) for _, c in sorted(all_contracts.items())]}
    return HEADER + yaml.safe_dump(body, allow_unicode=True, sort_keys=False, width=120)


def write(project_dir: Path, all_contracts: dict[str, contracts.Contract] | None = None) -> bool:
    """Write the sources YAML into the dbt project; only when its content changed, so that
    dbt's partial parsing stays warm. Returns whether the file was written."""
    path = project_dir / SOURCES_FILE
    text = render(contracts.load_all() if all_contracts is None else all_contracts)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


if __name__ == "__main__":
    from xinyong.publication.build import DBT_PROJECT

    changed = write(DBT_PROJECT)
    print(f"{DBT_PROJECT / SOURCES_FILE}: {'written' if changed else 'unchanged'}")
